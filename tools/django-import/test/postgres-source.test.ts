import { dropTestDatabase, testInfrastructure } from '@imm/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDjangoDatabase } from '../src/adapters/postgres-source';
import { convertOldData } from '../src/domain/convert';

/**
 * The database source in the `auth_user` layout (Django's users, foreign keys, commands 1/2), as
 * its migrations create the tables; the `accounts` layout is read in the end-to-end import test.
 */
const url = testInfrastructure('django_auth_user').DATABASE_URL;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
  await admin.query(`create database "${new URL(url).pathname.slice(1)}"`);
  await admin.end();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create table auth_user (id serial primary key, password varchar(128) not null,
    last_login timestamptz, is_superuser boolean not null, username varchar(150) not null unique,
    first_name varchar(150) not null, last_name varchar(150) not null, email varchar(254) not null,
    is_staff boolean not null, is_active boolean not null, date_joined timestamptz not null)`);
  await client.query(`create table injection_molding_machines (id bigserial primary key, name varchar(64) not null,
    location varchar(256) not null, status smallint not null, created_at timestamptz not null,
    updated_at timestamptz not null, owner_id integer not null references auth_user (id))`);
  await client.query(`create table machines_history (id bigserial primary key, request_datetime timestamptz not null,
    command smallint not null, result smallint not null, created_at timestamptz not null,
    machine_id bigint not null references injection_molding_machines (id),
    machine_owner_id integer not null references auth_user (id), worker_id integer not null references auth_user (id))`);
  await client.query(`insert into auth_user values (2, 'pbkdf2_sha256$260000$s$h', null, false, 'kim', 'Min', 'Kim',
    'kim@plant.example', false, true, '2025-01-01 00:00:00+00')`);
  await client.query(`insert into injection_molding_machines values (5, 'press', 'hall', 3, '2025-01-01 00:00:00+00',
    '2025-01-02 00:00:00+00', 2)`);
  await client.query(`insert into machines_history values (7, '2026-01-01 09:00:00.123456+00', 2, 1,
    '2026-01-01 09:00:01+00', 5, 2, 2)`);
  await client.end();
});
afterAll(async () => {
  await dropTestDatabase(url);
});

describe('readDjangoDatabase, auth_user layout', () => {
  it('finds Django’s user table and reads every row as the other layout names it', async () => {
    const data = await readDjangoDatabase(url);
    expect(data.layout).toBe('auth_user');
    const converted = convertOldData(data, {});
    expect(converted.leftOut).toEqual({ users: [], machines: [], history: [] });
    expect(converted.users[0]).toMatchObject({ id: 2, username: 'kim', date_joined: '2025-01-01T00:00:00.000Z' });
    expect(converted.machines).toEqual([
      expect.objectContaining({ id: 5, status: 3, owner_id: 2, updated_at: '2025-01-02T00:00:00.000Z' }),
    ]);
    expect(converted.history).toEqual([
      expect.objectContaining({
        id: 7,
        command: 'STOP',
        worker: 2,
        machine_id: 5,
        machine_owner_id: 2,
        request_datetime: '2026-01-01T09:00:00.123Z',
      }),
    ]);
  });
});

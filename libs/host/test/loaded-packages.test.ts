import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dropStreams, dropTestDatabase, query, testInfrastructure } from '@imm/testing';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const infra = testInfrastructure('host_loaded');
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

afterAll(async () => {
  await dropTestDatabase(infra.DATABASE_URL);
  await dropStreams(NATS_URL, infra.BUS_PREFIX);
});

/** The npm packages a freshly started process holds loaded once it is up (a process of its own). */
async function packagesLoaded(env: Record<string, string> = {}): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'libs/host/test/fixtures/loaded-packages.ts'],
    { cwd: repoRoot, env: { PATH: process.env.PATH, ...infra, NATS_URL, ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]');
}

describe('what a process keeps loaded', () => {
  it('applies its migrations without keeping the migrator loaded', async () => {
    const packages = await packagesLoaded();
    expect(packages).toEqual(expect.arrayContaining(['@mikro-orm/core', '@mikro-orm/postgresql', 'nats']));
    for (const migrator of ['@mikro-orm/migrations', 'umzug', '@rushstack/node-core-library', 'ajv']) {
      expect(packages).not.toContain(migrator);
    }
    expect(await query(infra.DATABASE_URL, 'select name from host_test.mikro_orm_migrations')).toEqual([
      { name: '0001_messaging' },
    ]);
  });

  it('loads no database or bus library when it declares neither', async () => {
    const packages = await packagesLoaded({ HTTP_ONLY: '1' });
    expect(packages).toContain('express');
    for (const unused of ['@mikro-orm/core', 'knex', 'pg', 'nats']) expect(packages).not.toContain(unused);
  });
});

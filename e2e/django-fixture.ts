import { execFile } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pg from 'pg';

/**
 * The older Django service's data, as a test builds it: its tables' rows, written either as a
 * `manage.py dumpdata` file or into a database with the old tables, and the import tool run on it.
 */

const root = fileURLToPath(new URL('..', import.meta.url));

/** Django's PBKDF2PasswordHasher: `pbkdf2_sha256$<iterations>$<salt>$<base64 sha256 hash>`. */
export function djangoHash(password: string, iterations: number): string {
  const salt = randomBytes(16).toString('base64url').slice(0, 22);
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64');
  return `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
}

export interface OldUserRow {
  id: number;
  password: string;
  last_login: string | null;
  is_superuser: boolean;
  username: string;
  first_name: string;
  last_name: string;
  email: string;
  is_staff: boolean;
  is_active: boolean;
  date_joined: string;
}
export interface OldMachineRow {
  id: number;
  name: string;
  location: string;
  status: number;
  owner_id: number;
  created_at: string;
  updated_at: string;
}
export interface OldHistoryRow {
  id: number;
  request_datetime: string;
  command: string;
  worker: number;
  machine_id: number;
  result: number;
  machine_owner_id: number;
  created_at: string;
}
export interface OldData {
  users: OldUserRow[];
  machines: OldMachineRow[];
  history: OldHistoryRow[];
}

/** The rows as dumpdata lists them, with a few models of other apps that are not ours to import. */
export function dumpdataOf(data: OldData): unknown[] {
  const entry = (model: string, row: { id: number }) => {
    const { id, ...fields } = row;
    return { model, pk: id, fields };
  };
  return [
    { model: 'contenttypes.contenttype', pk: 1, fields: { app_label: 'machines', model: 'machineshistory' } },
    ...data.users.map((u) => entry('accounts.user', { ...u, groups: [], user_permissions: [] } as OldUserRow)),
    ...data.machines.map((m) => entry('machines.injectionmoldingmachines', m)),
    ...data.history.map((h) => entry('machines.machineshistory', h)),
  ];
}

export async function writeDumpdata(path: string, data: OldData, gzip = false): Promise<void> {
  const json = JSON.stringify(dumpdataOf(data), null, 2);
  await writeFile(path, gzip ? gzipSync(json) : json);
}

/** Creates `url`'s database with the old service's three tables (as its migrations made them) and rows. */
export async function createDjangoDatabase(url: string, data: OldData): Promise<void> {
  const parsed = new URL(url);
  const name = parsed.pathname.slice(1);
  parsed.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: parsed.toString() });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create table accounts (
      id bigserial primary key, password varchar(128) not null, last_login timestamptz null,
      is_superuser boolean not null, username varchar(150) not null unique, first_name varchar(150) not null,
      last_name varchar(150) not null, email varchar(254) not null, is_staff boolean not null,
      is_active boolean not null, date_joined timestamptz not null)`);
    await client.query(`create table injection_molding_machines (
      id bigserial primary key, name varchar(64) not null, location varchar(256) not null,
      status smallint not null, owner_id bigint not null, created_at timestamptz not null,
      updated_at timestamptz not null)`);
    await client.query(`create table machines_history (
      id bigserial primary key, request_datetime timestamptz not null, command varchar(64) not null,
      worker bigint not null, machine_id bigint not null, result smallint not null,
      machine_owner_id bigint not null, created_at timestamptz not null)`);
    await client.query('create index "mo-index" on machines_history (machine_id, machine_owner_id)');
    const insert = async (table: string, rows: object[]) => {
      for (const row of rows) {
        const columns = Object.keys(row);
        await client.query(
          `insert into ${table} (${columns.join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          Object.values(row),
        );
      }
    };
    await insert('accounts', data.users);
    await insert('injection_molding_machines', data.machines);
    await insert('machines_history', data.history);
  } finally {
    await client.end();
  }
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run import:django -- <args>`, as an operator types it, against the test system's bus. */
export function runImportTool(args: string[], env: Record<string, string>): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', '-s', 'import:django', '--', ...args],
      { cwd: root, env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { dropTestDatabase, query, type RunningSystem, startSystem, testInfrastructure, waitFor } from '@imm/testing';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import { createDjangoDatabase, djangoHash, type OldData, runImportTool, writeDumpdata } from './django-fixture';
import { type RemoteMachine, sendCommand, startRemoteMachine, waitForFinal, waitForStatus } from './machine-control';

/**
 * Moving over from the Django service (`npm run import:django`): the old service's users, machines
 * and history, from its database and from a dumpdata file, imported twice, then used through the
 * gateway as its users would.
 */
// biome-ignore lint/suspicious/noExplicitAny: response bodies and reports are checked field by field
type Row = Record<string, any>;

const OUR_ADMIN_PASSWORD = '1qaz2wsx';
const passwords = {
  admin: 'old-admin-pass-1',
  kim: 'kim-molding-260k',
  lee: 'lee-molding-870k',
  park: 'park-molding-3',
};

let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let remote: RemoteMachine;
let folder: string;
let sourceDatabase: string;
let old: OldData;
/** Our own user, signed up before the import: the old user 13 wants its username, 14 its email. */
let ours: { id: number };

function fixture(remoteUrl: string): OldData {
  const t = (day: number) => `2026-03-0${day}T09:00:00Z`;
  const user = (id: number, username: string, password: string, extra: Partial<OldData['users'][number]> = {}) => ({
    id,
    password,
    last_login: null,
    is_superuser: false,
    username,
    first_name: username.toUpperCase(),
    last_name: 'Old',
    email: `${username}@plant.example`,
    is_staff: false,
    is_active: true,
    date_joined: '2025-01-01T00:00:00Z',
    ...extra,
  });
  const machine = (id: number, name: string, location: string, status: number, owner: number) => ({
    id,
    name,
    location,
    status,
    owner_id: owner,
    created_at: '2025-06-01T00:00:00Z',
    updated_at: '2025-06-02T00:00:00Z',
  });
  const entry = (
    id: number,
    command: string,
    worker: number,
    machineId: number,
    owner: number,
    result: number,
    day: number,
  ) => ({
    id,
    request_datetime: t(day),
    command,
    worker,
    machine_id: machineId,
    result,
    machine_owner_id: owner,
    created_at: t(day),
  });
  return {
    users: [
      user(1, 'admin', djangoHash(passwords.admin, 260000), { is_superuser: true, is_staff: true }),
      user(10, 'kim', djangoHash(passwords.kim, 260000), {
        first_name: 'Min',
        last_name: 'Kim',
        last_login: '2026-02-01T08:00:00Z',
      }),
      user(11, 'lee', djangoHash(passwords.lee, 870000), { is_staff: true }),
      user(12, 'park', djangoHash(passwords.park, 260000), { is_active: false }),
      user(13, 'pre_taken', djangoHash('whatever-13', 260000)),
      user(14, 'choi', djangoHash('whatever-14', 260000), { email: 'PRE_TAKEN@example.com' }),
    ],
    machines: [
      machine(1, 'press-1', 'hall A', 1, 10), // READY
      machine(2, 'press-2', remoteUrl, 2, 11), // RUNNING, reached over HTTP
      machine(3, 'press-3', 'hall C', 3, 1), // PENDING: became ERROR; the old admin's
      machine(4, 'press-4', 'hall D', 0, 10), // POWEROFF
      machine(7, 'press-7', 'hall E', 1, 13), // its owner is not imported
      machine(8, '', 'hall F', 1, 10), // no name: fails validation
    ],
    history: [
      entry(1, 'START', 10, 1, 10, 1, 1),
      entry(2, 'STOP', 10, 1, 10, 1, 2),
      entry(3, 'START', 11, 2, 11, 1, 2),
      entry(4, 'START', 10, 1, 10, 4, 3), // never finished in the old service
      entry(5, 'START', 1, 3, 1, 2, 3),
      entry(6, 'START', 10, 99, 10, 3, 4), // machine 99 was deleted in the old service
      entry(9, 'STOP', 13, 1, 10, 5, 4), // by a user who is not imported
      entry(10, 'START', 10, 7, 13, 1, 4), // about a machine that is not imported
      entry(11, 'START', 10, 1, 10, 6, 5), // IGNORE: never stored by the old service, not valid
      entry(12, 'start', 11, 2, 11, 7, 5),
    ],
  };
}

async function counts() {
  const [users] = await query<{ n: number }>(
    system.env.DATABASE_URL as string,
    'select count(*)::int as n from auth.users',
  );
  const [machines] = await query<{ n: number }>(
    system.env.DATABASE_URL as string,
    'select count(*)::int as n from machines.machine',
  );
  const [history] = await query<{ n: number }>(
    system.env.DATABASE_URL as string,
    'select count(*)::int as n from operations.operation',
  );
  return { users: users?.n, machines: machines?.n, history: history?.n };
}

const tool = (args: string[]) => runImportTool(args, { BUS_PREFIX: system.env.BUS_PREFIX as string });
const signIn = (username: string, password: string) =>
  api.call('POST', '/api/sign-in/', { body: { username, password } });

/** Per-subject message counts of one of the system's streams. */
async function subjectCounts(service: string): Promise<Record<string, number>> {
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  try {
    const jsm = await nc.jetstreamManager();
    const prefix = system.env.BUS_PREFIX as string;
    const info = await jsm.streams.info(`${prefix.toUpperCase()}_${service.toUpperCase()}`, { subjects_filter: '>' });
    const subjects = (info.state.subjects ?? {}) as Record<string, number>;
    return Object.fromEntries(Object.entries(subjects).map(([s, n]) => [s.slice(prefix.length + 1), n]));
  } finally {
    await nc.close();
  }
}

beforeAll(async () => {
  remote = await startRemoteMachine();
  system = await startSystem({ SIM_LATENCY_MS: '20', RATE_LIMIT_PER_MINUTE: '100000' });
  api = apiClient(system.url);
  folder = await mkdtemp(join(tmpdir(), 'django-import-'));
  old = fixture(remote.url);
  const signUp = await api.call('POST', '/api/sign-up/', {
    body: {
      username: 'pre_taken',
      email: 'pre_taken@example.com',
      password: 'molding-pre-1',
      first_name: 'Pre',
      last_name: 'Existing',
    },
  });
  expect(signUp.status).toBe(201);
  ours = signUp.body.result.user;
  await writeDumpdata(join(folder, 'dump.json'), old);
  await writeDumpdata(join(folder, 'dump.json.gz'), old, true);
  sourceDatabase = testInfrastructure('django_source').DATABASE_URL;
  await createDjangoDatabase(sourceDatabase, old);
});
afterAll(async () => {
  await system?.stop();
  await remote?.close();
  if (sourceDatabase) await dropTestDatabase(sourceDatabase).catch(() => {});
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('a source that cannot be imported fails cleanly, with nothing imported', () => {
  it('a broken dumpdata file, plain or gzip', async () => {
    const before = await counts();
    const truncated = join(folder, 'broken.json');
    await writeFile(truncated, JSON.stringify(old.users).slice(0, 200));
    const plain = await tool(['--from', truncated]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('is not valid JSON');
    expect(plain.stderr).toContain('nothing imported');

    const brokenGzip = join(folder, 'broken.json.gz');
    await writeFile(brokenGzip, gzipSync(JSON.stringify(old.users)).subarray(0, 40));
    const gz = await tool(['--from', brokenGzip]);
    expect(gz.code).toBe(1);
    expect(gz.stderr).toContain('is not a readable gzip file');

    const notDumpdata = join(folder, 'not-dumpdata.json');
    await writeFile(notDumpdata, JSON.stringify({ users: old.users }));
    const shape = await tool(['--from', notDumpdata]);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toContain('is not a dumpdata file');

    const missingTables = await tool(['--from', system.env.DATABASE_URL as string]);
    expect(missingTables.code).toBe(1);
    expect(missingTables.stderr).toContain('has no table accounts');
    expect(await counts()).toEqual(before);
  });

  it('a duplicate email (ignoring case) fails the whole import, in every service', async () => {
    const before = await counts();
    const duplicate = join(folder, 'duplicate.json');
    const withDuplicate: OldData = {
      ...old,
      users: [
        ...old.users,
        { ...(old.users[1] as OldData['users'][number]), id: 15, username: 'kim2', email: 'KIM@plant.example' },
      ],
    };
    await writeDumpdata(duplicate, withDuplicate);
    const run = await tool(['--from', duplicate]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAILED, nothing imported');
    expect(run.stdout).toContain('the same email KIM@plant.example');
    expect(await counts()).toEqual(before);
    expect((await signIn('kim', passwords.kim)).status).toBe(401);
  });

  it('a dry run reports what it would import and writes nothing', async () => {
    const before = await counts();
    const run = await tool(['--from', join(folder, 'dump.json'), '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ dryRun: true, ok: true, changed: false });
    expect(report.users.imported).toEqual([10, 11, 12]);
    expect(report.machines.imported).toEqual([1, 2, 3, 4]);
    expect(await counts()).toEqual(before);
  });
});

describe('importing from the old database, then again from a dumpdata file', () => {
  let first: Row;
  beforeAll(async () => {
    const run = await tool(['--from', sourceDatabase, '--source-timezone', 'Asia/Seoul', '--json']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    first = JSON.parse(run.stdout);
  });

  it('reports what was imported, skipped and why', () => {
    expect(first).toMatchObject({ ok: true, changed: true, dryRun: false, conflicts: [] });
    expect(first.users.imported).toEqual([10, 11, 12]);
    expect(first.users.skipped).toEqual([
      { id: 1, reason: 'admin_kept' },
      { id: 13, reason: 'username_taken' },
      { id: 14, reason: 'email_taken' },
    ]);
    expect(first.machines.imported).toEqual([1, 2, 3, 4]);
    expect(first.machines.skipped.map((s: { id: number }) => s.id).sort()).toEqual([7, 8]);
    expect(first.machines.skipped).toContainEqual({ id: 7, reason: 'owner_not_imported:13' });
    expect(first.machines.pendingAsError).toEqual([3]);
    expect(first.history.imported).toEqual([1, 2, 3, 4, 5, 6, 12]);
    expect(first.history.skipped).toEqual(
      expect.arrayContaining([
        { id: 9, reason: 'user_not_imported:13' },
        { id: 10, reason: 'machine_not_imported:7' },
        expect.objectContaining({ id: 11, reason: expect.stringContaining('fails validation') }),
      ]),
    );
    expect(first.history.shifted).toEqual([1, 2, 3, 4, 5, 6, 12]);
  });

  it('a second run, from the gzip dumpdata, changes nothing and says so', async () => {
    const before = await counts();
    const run = await tool(['--from', join(folder, 'dump.json.gz'), '--source-timezone', 'Asia/Seoul']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('users: 0 imported, 3 already there, 3 skipped');
    expect(run.stdout).toContain('machines: 0 imported, 4 already there, 2 skipped');
    expect(run.stdout).toContain('history: 0 imported, 7 already there, 3 skipped');
    expect(run.stdout).toContain('Nothing changed: everything was imported before.');
    expect(await counts()).toEqual(before);
  });

  it('users sign in through the gateway with their old passwords, which are rehashed to bcrypt', async () => {
    for (const [username, password] of [
      ['kim', passwords.kim],
      ['lee', passwords.lee],
    ] as const) {
      const response = await signIn(username, password);
      expect(response.status, username).toBe(200);
      const [row] = await query<{ password: string }>(
        system.env.DATABASE_URL as string,
        'select password from auth.users where username = $1',
        [username],
      );
      expect(row?.password.startsWith('$2')).toBe(true);
      expect((await signIn(username, password)).status).toBe(200);
      expect((await signIn(username, `${password}-wrong`)).status).toBe(401);
    }
    expect((await signIn('park', passwords.park)).status).toBe(401); // inactive, as it was
    // Our admin was kept: the old admin's password does not open it.
    expect((await signIn('admin', passwords.admin)).status).toBe(401);
    expect((await signIn('admin', OUR_ADMIN_PASSWORD)).status).toBe(200);
  });

  it('users keep their ids and fields', async () => {
    const kim = (await signIn('kim', passwords.kim)).body.result;
    const me = await api.call('GET', '/api/me/', { token: kim.token.access });
    expect(me.body.result.user ?? me.body.result).toMatchObject({
      id: 10,
      username: 'kim',
      email: 'kim@plant.example',
      first_name: 'Min',
      last_name: 'Kim',
      is_staff: false,
      is_superuser: false,
      is_active: true,
      date_joined: '2025-01-01T00:00:00.000Z',
    });
    const lee = (await signIn('lee', passwords.lee)).body.result.user;
    expect(lee).toMatchObject({ id: 11, is_staff: true });
  });

  it('machines keep ids, names, owners and timestamps; statuses are mapped; http locations are endpoints', async () => {
    // A superuser sees every machine's endpoint (others see only their own machines' endpoints).
    const admin = (await signIn('admin', OUR_ADMIN_PASSWORD)).body.result.token.access;
    const list = await api.call('GET', '/api/machines/?ordering=id', { token: admin });
    expect(list.status).toBe(200);
    const machines = list.body.result.results.filter((m: { id: number }) => m.id <= 8);
    expect(machines.map((m: Row) => [m.id, m.name, m.owner_id, m.status, m.endpoint, m.location])).toEqual([
      [1, 'press-1', 10, 2, null, 'hall A'],
      [2, 'press-2', 11, 4, remote.url, remote.url],
      [3, 'press-3', 1, 5, null, 'hall C'],
      [4, 'press-4', 10, 1, null, 'hall D'],
    ]);
    expect(machines[0]).toMatchObject({
      created_at: '2025-06-01T00:00:00.000Z',
      updated_at: '2025-06-02T00:00:00.000Z',
    });
  });

  it('history keeps every imported row and its result; request_datetime is read as Seoul time', async () => {
    const admin = (await signIn('admin', OUR_ADMIN_PASSWORD)).body.result.token.access;
    const machine1 = await api.call('GET', '/api/machines/1/history/', { token: admin });
    expect(machine1.status).toBe(200);
    expect(machine1.body.result.count).toBe(3);
    const imported = machine1.body.result.results.filter((e: { id: number }) => e.id <= 12);
    expect(imported.map((e: Row) => [e.id, e.command, e.worker, e.machine_owner_id, e.result])).toEqual([
      [4, 'START', 10, 10, 4],
      [2, 'STOP', 10, 10, 1],
      [1, 'START', 10, 10, 1],
    ]);
    // Stored as 09:00 "UTC" by servers running in Asia/Seoul: 00:00 UTC.
    expect(imported.find((e: { id: number }) => e.id === 1).request_datetime).toBe('2026-03-01T00:00:00.000Z');

    const lee = (await signIn('lee', passwords.lee)).body.result.token.access;
    const mine = await api.call('GET', '/api/machines/history/', { token: lee });
    expect(mine.body.result.count).toBe(2);
    expect(mine.body.result.results.map((e: Row) => [e.id, e.command, e.result])).toEqual([
      [12, 'START', 7],
      [3, 'START', 1],
    ]);
    const [deleted] = await query<{ machine_id: number; result: number }>(
      system.env.DATABASE_URL as string,
      'select machine_id, result from operations.operation where id = 6',
    );
    expect(deleted).toEqual({ machine_id: 99, result: 3 });
    // The old admin's entry belongs to ours.
    const [admins] = await query<{ worker: number }>(
      system.env.DATABASE_URL as string,
      'select worker from operations.operation where id = 5',
    );
    expect(admins?.worker).toBe(1);
  });

  it('START and STOP work on imported machines (an imported PENDING entry blocks nothing)', async () => {
    const kim = (await signIn('kim', passwords.kim)).body.result.token.access;
    const start = await sendCommand(api, kim, 1, 'START');
    expect(start.status, JSON.stringify(start.body)).toBe(202);
    expect(start.body.result.id).toBeGreaterThan(12);
    expect((await waitForFinal(api, kim, start.headers.get('location') as string)).result).toBe(1);
    await waitForStatus(api, kim, 1, 4);
    const stop = await sendCommand(api, kim, 1, 'STOP');
    expect(stop.status).toBe(202);
    expect((await waitForFinal(api, kim, stop.headers.get('location') as string)).result).toBe(1);
    await waitForStatus(api, kim, 1, 2);

    // Machine 2 is reached at its old http location, as the old service reached it.
    const lee = (await signIn('lee', passwords.lee)).body.result.token.access;
    const stopRemote = await sendCommand(api, lee, 2, 'STOP');
    expect(stopRemote.status, JSON.stringify(stopRemote.body)).toBe(202);
    expect((await waitForFinal(api, lee, stopRemote.headers.get('location') as string)).result).toBe(1);
    await waitForStatus(api, lee, 2, 2);
    expect(remote.received).toEqual(['STOP']);

    // The imported PENDING entry is history: the sweeper neither drove nor expired it.
    const [pending] = await query<{ result: number }>(
      system.env.DATABASE_URL as string,
      'select result from operations.operation where id = 4',
    );
    expect(pending?.result).toBe(4);
  });

  it('new sign-ups and machines get ids after the imported ones', async () => {
    const user = await api.newUser('after');
    expect(user.id).toBeGreaterThan(12);
    const created = await api.call('POST', '/api/machines/', {
      token: user.access,
      body: { name: 'press-new', location: 'hall Z' },
    });
    expect(created.status).toBe(201);
    expect(created.body.result.id).toBeGreaterThan(4);
    expect(ours.id).toBeLessThan(10);
  });

  it('imported rows publish no "created" events, only one "imported" summary per service for the run', async () => {
    await waitFor(
      async () => {
        const [auth, machines, operations] = await Promise.all(
          ['auth', 'machines', 'operations'].map((s) => subjectCounts(s)),
        );
        return auth?.['auth.users.imported'] === 1 &&
          machines?.['machines.machines.imported'] === 1 &&
          operations?.['operations.history.imported'] === 1
          ? { auth, machines }
          : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    ).then(({ auth, machines }) => {
      // Our admin's seeding, the sign-up before the import and the one after: none for imported users.
      expect(auth['auth.user.registered']).toBe(3);
      // Only the machine created through the API.
      expect(machines['machines.machine.created']).toBe(1);
    });
  });
});

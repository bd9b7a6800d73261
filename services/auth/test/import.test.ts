import { randomUUID } from 'node:crypto';
import { type Bus, connectBus, putTransfer, request } from '@imm/bus';
import { decodeImportReply, type ImportedUser, type UsersImportOutcome } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import { dropStreams, query } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { djangoHash, dropTestDatabase, newUser, startService, type TestService, testSettings } from './service';

/**
 * The auth service's import entry point (`auth.import.users`), as the Django import tool uses it:
 * a part in the transfer store, checked or written in one transaction.
 */
const settings = testSettings('auth_import');
let service: TestService;
let bus: Bus;

const user = (id: number, username: string, password: string, extra: Partial<ImportedUser> = {}): ImportedUser => ({
  id,
  username,
  email: `${username}@plant.example`,
  password: djangoHash(password, 260_000),
  first_name: '',
  last_name: '',
  is_staff: false,
  is_active: true,
  is_superuser: false,
  last_login: null,
  date_joined: '2025-01-01T00:00:00.000Z',
  ...extra,
});

async function importUsers(users: ImportedUser[], options: { apply: boolean; replaceAdmin?: boolean }) {
  const runId = randomUUID();
  const part = `test.${runId}.users`;
  await putTransfer(bus, part, { users, replace_admin: options.replaceAdmin ?? false });
  return decodeImportReply(await request(bus, 'auth.import.users', { run_id: runId, part, apply: options.apply }));
}

const userCount = async () =>
  (await query<{ n: number }>(settings.DATABASE_URL as string, 'select count(*)::int as n from auth.users'))[0]?.n;
const summaries = async () =>
  (
    await query<{ n: number }>(
      settings.DATABASE_URL as string,
      "select count(*)::int as n from auth.outbox_message where type = 'auth.users.imported'",
    )
  )[0]?.n;
const signIn = (username: string, password: string) =>
  service.call('POST', '/api/sign-in/', { body: { username, password } });

beforeAll(async () => {
  service = await startService(settings);
  bus = await connectBus({
    url: 'nats://127.0.0.1:4222',
    prefix: settings.BUS_PREFIX as string,
    name: 'auth-import-test',
    logger: createLogger('auth-import-test', 'silent'),
  });
});
afterAll(async () => {
  await bus?.close();
  await service?.stop();
  await dropStreams('nats://127.0.0.1:4222', settings.BUS_PREFIX as string);
  await dropTestDatabase(settings.DATABASE_URL as string);
});

describe('auth.import.users', () => {
  const oldAdmin = user(1, 'admin', 'old-admin-secret', { is_superuser: true, is_staff: true });
  const kim = user(20, 'kim', 'kim-old-secret');

  it('a check writes nothing', async () => {
    const before = await userCount();
    const reply = await importUsers([oldAdmin, kim], { apply: false, replaceAdmin: true });
    expect(reply).toMatchObject({ imported: [1, 20], present: [], skipped: [], conflicts: [] });
    expect(await userCount()).toBe(before);
    expect((await signIn('kim', 'kim-old-secret')).status).toBe(401);
  });

  it('an id taken by another of our users is a conflict: nothing of the part is written', async () => {
    const ours = await service.call('POST', '/api/sign-up/', { body: newUser('ours') });
    expect(ours.status).toBe(201);
    const before = await userCount();
    const reply = await importUsers([kim, user(ours.body.result.user.id, 'someone', 'someone-secret')], {
      apply: true,
    });
    expect(reply.conflicts).toEqual([`user id ${ours.body.result.user.id} (someone) is taken by our user ours`]);
    expect(await userCount()).toBe(before);
    expect(await summaries()).toBe(0);
  });

  it('--replace-admin: the old admin replaces ours, keeping its id and hash', async () => {
    expect((await signIn('admin', '1qaz2wsx')).status).toBe(200);
    const reply: UsersImportOutcome = await importUsers([oldAdmin, kim], { apply: true, replaceAdmin: true });
    expect(reply).toMatchObject({ imported: [1, 20], present: [], skipped: [], conflicts: [], mapped: [] });
    expect((await signIn('admin', '1qaz2wsx')).status).toBe(401);
    const admin = await signIn('admin', 'old-admin-secret');
    expect(admin.status).toBe(200);
    expect(admin.body.result.user).toMatchObject({ id: 1, is_superuser: true, email: 'admin@plant.example' });
    expect((await signIn('kim', 'kim-old-secret')).body.result.user.id).toBe(20);
    expect(await summaries()).toBe(1);
  });

  it('a second run finds everything there, even the replaced admin, and writes nothing', async () => {
    const before = await userCount();
    const again = await importUsers([oldAdmin, kim], { apply: true, replaceAdmin: true });
    expect(again).toMatchObject({ imported: [], present: [1, 20], skipped: [], conflicts: [] });
    // Without --replace-admin too: the admin there is the imported one now.
    const plain = await importUsers([oldAdmin, kim], { apply: true });
    expect(plain).toMatchObject({ imported: [], present: [1, 20] });
    expect(await userCount()).toBe(before);
    expect(await summaries()).toBe(1);
  });

  it('sign-ups continue after the highest imported id', async () => {
    const next = await service.call('POST', '/api/sign-up/', { body: newUser('next') });
    expect(next.status).toBe(201);
    expect(next.body.result.user.id).toBe(21);
  });

  it('a part that is missing from the transfer store is a conflict, not a crash', async () => {
    const reply = await request(bus, 'auth.import.users', {
      run_id: randomUUID(),
      part: 'test.nothing-here',
      apply: true,
    });
    expect(reply.conflicts[0]).toContain('the users part test.nothing-here is missing or malformed');
  });
});

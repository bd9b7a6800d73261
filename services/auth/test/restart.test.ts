import { query } from '@imm/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { dropTestDatabase, startService, type TestService, testSettings } from './service';

const started: TestService[] = [];
const databases: string[] = [];

function settingsFor(tag: string, overrides: Record<string, string> = {}) {
  const settings = testSettings(tag, overrides);
  databases.push(settings.DATABASE_URL as string);
  return settings;
}

async function start(settings: Record<string, string>): Promise<TestService> {
  const service = await startService(settings);
  started.push(service);
  return service;
}

async function stop(service: TestService): Promise<void> {
  started.splice(started.indexOf(service), 1);
  await service.stop();
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.stop()));
  await Promise.all(databases.splice(0).map((url) => dropTestDatabase(url)));
});

const kidOf = async (service: TestService) =>
  ((await (await fetch(`${service.url}/api/auth/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map(
    (k) => k.kid,
  );

describe('restarts', () => {
  it('keeps the DEV signing key and the admin across restarts: tokens stay valid, admin is seeded once', async () => {
    const settings = settingsFor('auth_restart');
    const first = await start(settings);
    const signedIn = await first.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
    expect(signedIn.status).toBe(200);
    const { access, refresh } = signedIn.body.result.token;
    const kid = await kidOf(first);
    await stop(first);

    // A changed ADMIN_PASSWORD does not overwrite the existing admin's password.
    const second = await start({ ...settings, ADMIN_PASSWORD: 'another-admin-secret' });
    expect(await kidOf(second)).toEqual(kid);
    const me = await second.call('GET', '/api/me/', { token: access });
    expect(me.status).toBe(200);
    expect(me.body.result.user.username).toBe('admin');
    expect((await second.call('POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(200);
    expect(
      (await second.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } })).status,
    ).toBe(200);

    const url = settings.DATABASE_URL as string;
    expect(await query(url, "select count(*)::int as n from auth.users where username = 'admin'")).toEqual([{ n: 1 }]);
    expect(
      await query(url, "select count(*)::int as n from auth.outbox_message where type = 'auth.user.registered'"),
    ).toEqual([{ n: 1 }]);
  });

  it('lets two instances start together on a new database: one admin, one key, tokens good on both', async () => {
    const settings = settingsFor('auth_together');
    const [a, b] = (await Promise.all([start(settings), start(settings)])) as [TestService, TestService];
    expect(await kidOf(a)).toEqual(await kidOf(b));

    const url = settings.DATABASE_URL as string;
    expect(await query(url, "select count(*)::int as n from auth.users where username = 'admin'")).toEqual([{ n: 1 }]);
    expect(await query(url, 'select count(*)::int as n from auth.signing_key')).toEqual([{ n: 1 }]);

    const signedIn = await a.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
    const rotated = await b.call('POST', '/api/token/refresh/', {
      body: { refresh: signedIn.body.result.token.refresh },
    });
    expect(rotated.status).toBe(200);
    expect((await a.call('GET', '/api/me/', { token: rotated.body.result.access })).status).toBe(200);
  });

  it('signs with a configured key, publishing previous keys for a rotation', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const older = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const current = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pemOf = (key: typeof older.privateKey) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
    const settings = settingsFor('auth_keys', { JWT_PRIVATE_KEY: pemOf(older.privateKey) });

    const before = await start(settings);
    const signedIn = await before.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
    const [oldKid] = await kidOf(before);
    await stop(before);

    const after = await start({
      ...settings,
      JWT_PRIVATE_KEY: pemOf(current.privateKey),
      JWT_PREVIOUS_PUBLIC_KEYS: older.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    });
    const kids = await kidOf(after);
    expect(kids).toHaveLength(2);
    expect(kids[1]).toBe(oldKid);
    // Tokens of the old key still verify; new ones are signed with the new key.
    expect((await after.call('GET', '/api/me/', { token: signedIn.body.result.token.access })).status).toBe(200);
    const rotated = await after.call('POST', '/api/token/refresh/', {
      body: { refresh: signedIn.body.result.token.refresh },
    });
    expect(rotated.status).toBe(200);
    const header = JSON.parse(Buffer.from(rotated.body.result.access.split('.')[0], 'base64url').toString());
    expect(header.kid).toBe(kids[0]);
    // Nothing was generated or stored: the configured key is the only signing key.
    expect(await query(settings.DATABASE_URL as string, 'select count(*)::int as n from auth.signing_key')).toEqual([
      { n: 0 },
    ]);
  });
});

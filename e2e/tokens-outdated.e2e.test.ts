import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';

/**
 * Sign-out, a password change and a deactivation outdate access tokens at once, at the gateway and
 * at every service reached directly (an attacker on the plant network holding a stolen token).
 */
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let services: Record<'auth' | 'machines' | 'operations', ReturnType<typeof apiClient>>;

beforeAll(async () => {
  system = await startSystem();
  api = apiClient(system.url);
  // Each service reached directly, its responses checked against the part it publishes.
  const direct = (port: string) => apiClient(`http://127.0.0.1:${system.env[port]}`, { document: '/openapi.json' });
  services = { auth: direct('AUTH_PORT'), machines: direct('MACHINES_PORT'), operations: direct('OPERATIONS_PORT') };
});
afterAll(async () => {
  await system?.stop();
});

/** Every place the token could be used: the gateway and each service behind it. */
async function statusesWith(access: string): Promise<number[]> {
  return Promise.all([
    api.call('GET', '/api/me/', { token: access }).then((r) => r.status),
    api.call('GET', '/api/machines/', { token: access }).then((r) => r.status),
    api.call('GET', '/api/machines/history/', { token: access }).then((r) => r.status),
    services.auth.call('GET', '/api/me/', { token: access }).then((r) => r.status),
    services.machines.call('GET', '/api/machines/', { token: access }).then((r) => r.status),
    services.operations.call('GET', '/api/machines/history/', { token: access }).then((r) => r.status),
  ]);
}

const ALL_OK = [200, 200, 200, 200, 200, 200];
const ALL_REFUSED = [401, 401, 401, 401, 401, 401];

async function signIn(username: string, password: string) {
  const response = await api.call('POST', '/api/sign-in/', { body: { username, password } });
  return response;
}

describe('outdated access tokens', () => {
  it('sign-out ends that session at once, everywhere; the same user’s other session goes on', async () => {
    const user = await api.newUser('leaver');
    const second = (await signIn(user.username, user.password)).body.result.token;
    expect(await statusesWith(user.access)).toEqual(ALL_OK);

    const out = await api.call('POST', '/api/sign-out/', { token: user.access, body: { refresh: user.refresh } });
    expect(out.status).toBe(200);

    expect(await statusesWith(user.access)).toEqual(ALL_REFUSED);
    const refused = await api.call('GET', '/api/me/', { token: user.access });
    expect(refused.body).toEqual({ status: 0, message: 'Token is blacklisted', error_code: 3 });
    expect(await statusesWith(second.access)).toEqual(ALL_OK);
  });

  it('a password change outdates every token of the user; the new password signs in', async () => {
    const user = await api.newUser('changer');
    const other = (await signIn(user.username, user.password)).body.result.token;

    const wrong = await api.call('POST', '/api/me/password/', {
      token: user.access,
      body: { old_password: 'not the password', new_password: 'a-new-secret-42' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toEqual({ old_password: [expect.any(String)] });
    expect(await statusesWith(user.access)).toEqual(ALL_OK);

    const changed = await api.call('POST', '/api/me/password/', {
      token: user.access,
      body: { old_password: user.password, new_password: 'a-new-secret-42' },
    });
    expect(changed.status).toBe(200);
    expect(await statusesWith(user.access)).toEqual(ALL_REFUSED);
    expect(await statusesWith(other.access)).toEqual(ALL_REFUSED);
    expect((await api.call('POST', '/api/token/refresh/', { body: { refresh: other.refresh } })).status).toBe(401);

    expect((await signIn(user.username, user.password)).status).toBe(401);
    const fresh = await signIn(user.username, 'a-new-secret-42');
    expect(fresh.status).toBe(200);
    expect(await statusesWith(fresh.body.result.token.access)).toEqual(ALL_OK);
  });

  it('a superuser deactivates a user: its tokens stop at once; nobody else may do it', async () => {
    const user = await api.newUser('leaving');
    const bystander = await api.newUser('bystander');
    const admin = (await signIn('admin', '1qaz2wsx')).body.result.token;

    const denied = await api.call('POST', `/api/users/${user.id}/deactivate/`, { token: bystander.access });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ status: 0, error_code: 4 });
    expect(await statusesWith(user.access)).toEqual(ALL_OK);
    expect((await api.call('POST', '/api/users/999999/deactivate/', { token: admin.access })).status).toBe(404);

    const done = await api.call('POST', `/api/users/${user.id}/deactivate/`, { token: admin.access });
    expect(done.status).toBe(200);
    expect(done.body.result.user).toMatchObject({ id: user.id, is_active: false });
    expect(await statusesWith(user.access)).toEqual(ALL_REFUSED);
    expect((await api.call('POST', '/api/token/refresh/', { body: { refresh: user.refresh } })).status).toBe(401);
    expect((await signIn(user.username, user.password)).status).toBe(401);
    expect(await statusesWith(bystander.access)).toEqual(ALL_OK);
  });
});

import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient } from './client';

/** The machines API through the gateway, as two users and the admin would use it. */
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  system = await startSystem();
  api = apiClient(system.url);
});
afterAll(async () => {
  await system?.stop();
});

it('creates, reads, lists, updates and deletes a machine, as its owner and as another user', async () => {
  const owner = await api.newUser('owner');
  const other = await api.newUser('other');

  const created = await api.call('POST', '/api/machines/', {
    token: owner.access,
    body: { name: 'press-7', location: 'hall B, line 2', owner_id: other.id, status: 4, id: 999 },
  });
  expect(created.status).toBe(201);
  const machine = created.body.result;
  // owner_id and id from a non-superuser's body are ignored; status may be set.
  expect(machine).toMatchObject({ name: 'press-7', location: 'hall B, line 2', owner_id: owner.id, status: 4 });
  expect(machine.id).not.toBe(999);

  const read = await api.call('GET', `/api/machines/${machine.id}/`, { token: other.access });
  expect(read.status).toBe(200);
  expect(read.body.result).toEqual(machine);

  const list = await api.call('GET', `/api/machines/?search=PRESS-7&owner_id=${owner.id}`, { token: other.access });
  expect(list.status).toBe(200);
  expect(list.body.result).toMatchObject({ count: 1, next: null, previous: null });
  expect(list.body.result.results[0].id).toBe(machine.id);

  const forbidden = await api.call('PATCH', `/api/machines/${machine.id}`, {
    token: other.access,
    body: { name: 'mine now' },
  });
  expect(forbidden.status).toBe(403);
  expect(forbidden.body.error_code).toBe(4);
  const deleteForbidden = await api.call('DELETE', `/api/machines/${machine.id}/`, { token: other.access });
  expect(deleteForbidden.status).toBe(403);

  const patched = await api.call('PATCH', `/api/machines/${machine.id}/`, {
    token: owner.access,
    body: { name: 'press-7b' },
  });
  expect(patched.status).toBe(200);
  expect(patched.body.result).toMatchObject({ name: 'press-7b', location: 'hall B, line 2' });

  const put = await api.call('PUT', `/api/machines/${machine.id}/`, {
    token: owner.access,
    body: { name: 'press-8', location: 'hall C', status: 2, endpoint: 'sim://press-8?latency_ms=10' },
  });
  expect(put.status).toBe(200);
  expect(put.body.result).toMatchObject({
    name: 'press-8',
    location: 'hall C',
    status: 2,
    endpoint: 'sim://press-8?latency_ms=10',
  });

  const unchanged = await api.call('GET', `/api/machines/${machine.id}/`, { token: other.access });
  expect(unchanged.body.result.name).toBe('press-8');

  const deleted = await api.call('DELETE', `/api/machines/${machine.id}/`, { token: owner.access });
  expect(deleted.status).toBe(204);
  const gone = await api.call('GET', `/api/machines/${machine.id}/`, { token: owner.access });
  expect(gone.status).toBe(404);
  expect(gone.body.error_code).toBe(5);
});

it('lets the admin manage any machine and give it to someone', async () => {
  const owner = await api.newUser('owned');
  const admin = await api.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
  const adminToken = admin.body.result.token.access;

  const created = await api.call('POST', '/api/machines/', {
    token: adminToken,
    body: { name: 'for-owner', location: 'hall A', owner_id: owner.id },
  });
  expect(created.status).toBe(201);
  expect(created.body.result.owner_id).toBe(owner.id);

  const patched = await api.call('PATCH', `/api/machines/${created.body.result.id}/`, {
    token: owner.access,
    body: { location: 'hall D' },
  });
  expect(patched.status).toBe(200);
  const removed = await api.call('DELETE', `/api/machines/${created.body.result.id}/`, { token: adminToken });
  expect(removed.status).toBe(204);
});

it('answers bad input with a 4xx envelope, never a 500', async () => {
  const user = await api.newUser('bad');
  const invalid = await api.call('POST', '/api/machines/', {
    token: user.access,
    body: { name: '', location: 'x'.repeat(257) },
  });
  expect(invalid.status).toBe(400);
  expect(Object.keys(invalid.body.message).sort()).toEqual(['location', 'name']);
  const array = await api.call('POST', '/api/machines/', { token: user.access, body: [] });
  expect(array.status).toBe(400);
  for (const id of ['abc', '0', '-1', '99999999999']) {
    const response = await api.call('GET', `/api/machines/${id}/`, { token: user.access });
    expect(response.status, id).toBe(404);
  }
  const anonymous = await api.call('GET', '/api/machines/');
  expect(anonymous.status).toBe(401);
});

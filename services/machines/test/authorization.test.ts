import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, type Json, startHarness, type TestUser } from './harness';

/**
 * Who may do what, as a matrix: every actor × every endpoint × the expected status. A denied call
 * must leave the machine as it was and record no event.
 */
let h: Harness;
const owner: TestUser = { id: 101, username: 'owner' };
const other: TestUser = { id: 202, username: 'other' };
const superuser: TestUser = { id: 1, username: 'admin', isSuperuser: true };

type Actor = 'anonymous' | 'other' | 'owner' | 'superuser';
const users: Record<Exclude<Actor, 'anonymous'>, TestUser> = { other, owner, superuser };
const tokenOf = (actor: Actor) => (actor === 'anonymous' ? undefined : h.issuer.token(users[actor]));

beforeAll(async () => {
  h = await startHarness('machines_authz');
});
afterAll(async () => {
  await h?.close();
});

async function newMachine(): Promise<Json> {
  const res = await call(h.base, 'POST', '/api/machines/', {
    token: h.issuer.token(owner),
    body: { name: 'press', location: 'hall 1' },
  });
  expect(res.status).toBe(201);
  return res.body.result;
}

const machineRow = async (id: number) => (await h.sql<Json>('select * from machines.machine where id = $1', [id]))[0];
const outboxSize = async () => (await h.outbox()).length;

interface Endpoint {
  name: string;
  method: string;
  path: (id: number) => string;
  body?: Json;
  writes: boolean;
}

const endpoints: Endpoint[] = [
  { name: 'list', method: 'GET', path: () => '/api/machines/', writes: false },
  { name: 'create', method: 'POST', path: () => '/api/machines/', body: { name: 'n', location: 'l' }, writes: true },
  { name: 'read', method: 'GET', path: (id) => `/api/machines/${id}/`, writes: false },
  {
    name: 'replace',
    method: 'PUT',
    path: (id) => `/api/machines/${id}/`,
    body: { name: 'new', location: 'moved', status: 1 },
    writes: true,
  },
  { name: 'patch', method: 'PATCH', path: (id) => `/api/machines/${id}/`, body: { status: 4 }, writes: true },
  { name: 'delete', method: 'DELETE', path: (id) => `/api/machines/${id}/`, writes: true },
];

const expected: Record<Actor, Record<string, number>> = {
  anonymous: { list: 401, create: 401, read: 401, replace: 401, patch: 401, delete: 401 },
  other: { list: 200, create: 201, read: 200, replace: 403, patch: 403, delete: 403 },
  owner: { list: 200, create: 201, read: 200, replace: 200, patch: 200, delete: 204 },
  superuser: { list: 200, create: 201, read: 200, replace: 200, patch: 200, delete: 204 },
};

const matrix = (Object.keys(expected) as Actor[]).flatMap((actor) =>
  endpoints.map((endpoint) => ({ actor, endpoint, status: expected[actor][endpoint.name] as number })),
);

describe('authorization matrix', () => {
  it.each(matrix)('$actor $endpoint.method $endpoint.name → $status', async ({ actor, endpoint, status }) => {
    const machine = await newMachine();
    const before = await machineRow(machine.id);
    const eventsBefore = await outboxSize();

    const res = await call(h.base, endpoint.method, endpoint.path(machine.id), {
      token: tokenOf(actor),
      body: endpoint.body,
    });
    expect(res.status).toBe(status);
    expect(res.headers.get('x-request-id')).toBeTruthy();

    if (status >= 400) {
      expect(res.body).toMatchObject({ status: 0, error_code: status === 401 ? 3 : 4 });
      expect(await machineRow(machine.id)).toEqual(before);
      expect(await outboxSize()).toBe(eventsBefore);
      return;
    }
    if (status === 204) {
      expect(res.body).toBeUndefined();
      expect(await machineRow(machine.id)).toBeUndefined();
    } else {
      expect(res.body.status).toBe(1);
    }
    if (endpoint.writes) expect(await outboxSize()).toBeGreaterThan(eventsBefore);
    else expect(await outboxSize()).toBe(eventsBefore);
  });

  it.each(['PUT', 'PATCH', 'DELETE', 'GET'])(
    'answers %s on an unknown id with 404 before any 403, and records nothing',
    async (method) => {
      const eventsBefore = await outboxSize();
      const res = await call(h.base, method, '/api/machines/987654/', {
        token: h.issuer.token(other),
        body: method === 'PUT' || method === 'PATCH' ? { name: 'x', location: 'y' } : undefined,
      });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ status: 0, message: 'Not found.', error_code: 5 });
      expect(await outboxSize()).toBe(eventsBefore);
    },
  );

  it('answers 403 (not 400) to an outsider with an invalid body, so validation tells them nothing', async () => {
    const machine = await newMachine();
    const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, {
      token: h.issuer.token(other),
      body: { name: '', status: 99 },
    });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('You do not have permission to perform this action.');
  });
});

describe('owner_id', () => {
  it('is the caller on create; a non-superuser cannot choose another owner', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', {
      token: h.issuer.token(other),
      body: { name: 'mine', location: 'x', owner_id: owner.id },
    });
    expect(res.status).toBe(201);
    expect(res.body.result.owner_id).toBe(other.id);
  });

  it('ignores a non-superuser owner_id even when it is not a valid id', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', {
      token: h.issuer.token(other),
      body: { name: 'mine', location: 'x', owner_id: 'not a number' },
    });
    expect(res.status).toBe(201);
    expect(res.body.result.owner_id).toBe(other.id);
  });

  it('lets a superuser create for someone else, and then that user owns it', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', {
      token: h.issuer.token(superuser),
      body: { name: 'assigned', location: 'x', owner_id: owner.id },
    });
    expect(res.status).toBe(201);
    expect(res.body.result.owner_id).toBe(owner.id);
    const patch = await call(h.base, 'PATCH', `/api/machines/${res.body.result.id}/`, {
      token: h.issuer.token(owner),
      body: { name: 'renamed by owner' },
    });
    expect(patch.status).toBe(200);
  });

  it('lets a superuser create a machine of their own when owner_id is left out', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', {
      token: h.issuer.token(superuser),
      body: { name: 'admin press', location: 'x' },
    });
    expect(res.body.result.owner_id).toBe(superuser.id);
  });

  it('lets a superuser hand a machine over; the old owner may no longer write it', async () => {
    const machine = await newMachine();
    const handOver = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, {
      token: h.issuer.token(superuser),
      body: { owner_id: other.id },
    });
    expect(handOver.status).toBe(200);
    expect(handOver.body.result.owner_id).toBe(other.id);

    const denied = await call(h.base, 'DELETE', `/api/machines/${machine.id}/`, { token: h.issuer.token(owner) });
    expect(denied.status).toBe(403);
    const allowed = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, {
      token: h.issuer.token(other),
      body: { location: 'hall 2' },
    });
    expect(allowed.status).toBe(200);
  });

  it('ignores an owner_id in the owner’s own update', async () => {
    const machine = await newMachine();
    const res = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, {
      token: h.issuer.token(owner),
      body: { name: 'press', location: 'hall 1', owner_id: other.id },
    });
    expect(res.status).toBe(200);
    expect(res.body.result.owner_id).toBe(owner.id);
    expect((await machineRow(machine.id)).owner_id).toBe(owner.id);
  });
});

describe('endpoint', () => {
  it('is shown only to the owner and superusers: null for everyone else, in reads and in lists', async () => {
    const created = await call(h.base, 'POST', '/api/machines/', {
      token: h.issuer.token(owner),
      body: { name: 'secret press', location: 'hall 9', endpoint: 'http://plc-user:plc-pass@10.9.8.7/cmd' },
    });
    expect(created.status).toBe(201);
    const machine = created.body.result;
    expect(machine.endpoint).toBe('http://plc-user:plc-pass@10.9.8.7/cmd');

    const seenBy = async (actor: Exclude<Actor, 'anonymous'>) => {
      const one = await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token: tokenOf(actor) });
      const list = await call(h.base, 'GET', '/api/machines/?search=secret%20press', { token: tokenOf(actor) });
      expect(list.body.result.results).toHaveLength(1);
      return [one.body.result.endpoint, list.body.result.results[0].endpoint];
    };
    expect(await seenBy('owner')).toEqual([machine.endpoint, machine.endpoint]);
    expect(await seenBy('superuser')).toEqual([machine.endpoint, machine.endpoint]);
    expect(await seenBy('other')).toEqual([null, null]);
  });
});

describe('tokens', () => {
  it('accepts the bare token without the Bearer scheme, as the Django service did', async () => {
    const res = await call(h.base, 'GET', '/api/machines/', {
      headers: { authorization: h.issuer.token(owner) },
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['an expired token', () => h.issuer.token(owner, { exp: Math.floor(Date.now() / 1000) - 10 })],
    ['a refresh token', () => h.issuer.token(owner, { token_type: 'refresh' })],
    ['garbage', () => 'not-a-token'],
  ])('refuses %s with 401', async (_name, token) => {
    const res = await call(h.base, 'GET', '/api/machines/', { token: token() });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ status: 0, error_code: 3 });
  });
});

import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiClient } from './client';
import { createMachine } from './machine-control';

/**
 * "Bad input always gets a clear 4xx in the envelope, never a 500, never a hang." Every documented
 * route and method, fed bodies, queries and headers a careless or hostile client would send.
 */
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let token: string;
let paths: Record<string, Record<string, unknown>>;
let machineId: number;

beforeAll(async () => {
  system = await startSystem({ RATE_LIMIT_PER_MINUTE: '100000' });
  api = apiClient(system.url);
  const user = await api.newUser('fuzz');
  token = user.access;
  machineId = await createMachine(api, token);
  paths = (await api.call('GET', '/api/openapi.json')).body.paths;
});
afterAll(async () => {
  await system?.stop();
});

const bodies: unknown[] = [
  null,
  [],
  [{ command: 'START' }],
  'START',
  42,
  true,
  {},
  { command: null, name: null, location: null, username: null, password: null, refresh: null },
  { command: ['START'], name: ['x'], location: { a: 1 }, status: '2', owner_id: 'me', endpoint: 12 },
  { name: 'x'.repeat(10_000), location: '\u0000', endpoint: 'javascript:alert(1)', status: 99 },
  { username: "admin' --", password: { $ne: '' }, email: 'not-an-email', refresh: 'a.b.c' },
  { status: Number.MAX_VALUE, owner_id: -1, command: 'start\u0000' },
  { __proto__: { isSuperuser: true }, constructor: { prototype: { admin: true } } },
];

const rawBodies: [string, string][] = [
  ['application/json', '{"a":'],
  ['application/json', '\u0000\u0001'],
  ['application/json; charset=latin1', '{"command":"START"}'],
  ['text/plain', 'command=START'],
  ['application/x-www-form-urlencoded', 'command=START'],
  ['multipart/form-data; boundary=x', '--x--'],
  ['application/json', `${'['.repeat(5000)}${']'.repeat(5000)}`],
];

const queries = [
  '?page=-1',
  '?page=0',
  '?page=abc',
  '?page=99999999999999999999',
  '?page_size=0',
  '?page_size=-5',
  '?page_size=abc',
  '?status=9',
  '?status[]=1',
  '?owner_id=x',
  '?ordering=;drop table machines',
  '?ordering=password',
  '?search=%00%27%22%5C%25_',
  '?since=yesterday&until=2026-13-45',
  '?machine_id=1e3&result=8&command=JUMP',
  '?page=1&page=2&page_size=1&page_size=x',
];

function concrete(path: string): string {
  return path.replace('{id}', String(machineId)).replace('{entryId}', '1');
}

async function expectClientError(method: string, path: string, response: { status: number; body: any }) {
  const where = `${method} ${path} -> ${response.status} ${JSON.stringify(response.body).slice(0, 160)}`;
  expect(response.status, where).toBeLessThan(500);
  if (
    response.status >= 400 &&
    path.startsWith('/api/') &&
    !path.startsWith('/api/swagger') &&
    !path.startsWith('/api/docs')
  ) {
    expect(response.body, where).toMatchObject({ status: 0, error_code: expect.any(Number) });
    expect(['string', 'object'], where).toContain(typeof response.body.message);
  }
}

it('answers every documented write with bad bodies with a 4xx (or success), never a 5xx', async () => {
  for (const [path, operations] of Object.entries(paths)) {
    for (const method of Object.keys(operations).filter((m) => ['post', 'put', 'patch'].includes(m))) {
      for (const body of bodies) {
        const response = await api.call(method.toUpperCase(), concrete(path), { token, body });
        await expectClientError(method, path, response);
      }
      for (const [type, raw] of rawBodies) {
        const response = await api.call(method.toUpperCase(), concrete(path), {
          token,
          raw,
          headers: { 'Content-Type': type },
        });
        await expectClientError(`${method} (${type})`, path, response);
        expect(response.status, `${method} ${path} ${type}`).toBeGreaterThanOrEqual(400);
      }
    }
  }
}, 240_000);

it('answers every documented read with bad queries with a 4xx (or success), never a 5xx', async () => {
  for (const [path, operations] of Object.entries(paths)) {
    if (!('get' in operations)) continue;
    for (const query of queries) {
      const response = await api.call('GET', `${concrete(path)}${query}`, { token });
      await expectClientError('get', `${path}${query}`, response);
    }
  }
}, 240_000);

it('answers bad headers with a 4xx, never a 5xx', async () => {
  const cases: Record<string, string>[] = [
    { Authorization: 'Bearer' },
    { Authorization: 'Bearer a b c' },
    { Authorization: `Bearer ${'x'.repeat(8000)}` },
    { Authorization: 'Basic YWRtaW46MXFhejJ3c3g=' },
    { Accept: 'text/xml' },
    { 'Accept-Language': ';;;q=abc,ko;q=x' },
    { 'X-Request-Id': '\u00ff'.repeat(300) },
    { 'Idempotency-Key': '' },
  ];
  for (const headers of cases) {
    const response = await api.call('POST', `/api/machines/${machineId}/operation/`, {
      body: { command: 'START' },
      headers: { Authorization: `Bearer ${token}`, ...headers },
    });
    expect(response.status, JSON.stringify(headers).slice(0, 80)).toBeLessThan(500);
  }
  // The machine is still usable afterwards: nothing above broke it.
  const machine = await api.call('GET', `/api/machines/${machineId}/`, { token });
  expect(machine.status).toBe(200);
});

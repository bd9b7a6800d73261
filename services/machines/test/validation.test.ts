import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, type Json, startHarness, type TestUser } from './harness';

let h: Harness;
let token: string;
let adminToken: string;
const owner: TestUser = { id: 7, username: 'owner' };

beforeAll(async () => {
  h = await startHarness('machines_valid');
  token = h.issuer.token(owner);
  adminToken = h.issuer.token({ id: 1, username: 'admin', isSuperuser: true });
});
afterAll(async () => {
  await h?.close();
});

const valid = { name: 'Engel e-mac 50', location: 'Hall A / Line 3' };
const create = (body: Json, as = token) => call(h.base, 'POST', '/api/machines/', { token: as, body });
const outboxSize = async () => (await h.outbox()).length;

/** A create with `field` set to `value` fails with exactly these messages for that field. */
async function expectFieldError(field: string, value: Json, messages: string[], as = token): Promise<void> {
  const before = await outboxSize();
  const body = value === undefined ? { ...valid } : { ...valid, [field]: value };
  if (value === undefined) delete (body as Json)[field];
  const res = await create(body, as);
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body).toEqual({ status: 0, message: { [field]: messages }, error_code: 2 });
  expect(await outboxSize()).toBe(before);
}

describe('name', () => {
  it.each([
    ['missing', undefined, 'This field is required.'],
    ['null', null, 'This field may not be null.'],
    ['empty', '', 'This field may not be blank.'],
    ['only spaces', '   ', 'This field may not be blank.'],
    ['65 characters', 'n'.repeat(65), 'Ensure this field has no more than 64 characters.'],
    ['a number', 42, 'Not a valid string.'],
    ['a boolean', true, 'Not a valid string.'],
    ['an object', { a: 1 }, 'Not a valid string.'],
    ['a list', ['a'], 'Not a valid string.'],
  ])('refuses %s', async (_case, value, message) => {
    await expectFieldError('name', value, [message]);
  });

  it('accepts 64 characters and trims surrounding spaces (before counting)', async () => {
    const res = await create({ ...valid, name: `  ${'n'.repeat(64)}  ` });
    expect(res.status).toBe(201);
    expect(res.body.result.name).toBe('n'.repeat(64));
  });

  it('keeps unicode and quotes as sent', async () => {
    const res = await create({ ...valid, name: "사출기 O'Brien \\ 100%_" });
    expect(res.status).toBe(201);
    expect(res.body.result.name).toBe("사출기 O'Brien \\ 100%_");
  });
});

describe('location', () => {
  it.each([
    ['missing', undefined, 'This field is required.'],
    ['null', null, 'This field may not be null.'],
    ['empty', '', 'This field may not be blank.'],
    ['257 characters', 'l'.repeat(257), 'Ensure this field has no more than 256 characters.'],
    ['a number', 3, 'Not a valid string.'],
  ])('refuses %s', async (_case, value, message) => {
    await expectFieldError('location', value, [message]);
  });

  it('accepts 256 characters', async () => {
    const res = await create({ ...valid, location: 'l'.repeat(256) });
    expect(res.status).toBe(201);
    expect(res.body.result.location).toHaveLength(256);
  });
});

describe('status', () => {
  it('defaults to 2 READY', async () => {
    const res = await create(valid);
    expect(res.body.result.status).toBe(2);
  });

  it.each([1, 2, 3, 4, 5])('accepts %i', async (status) => {
    const res = await create({ ...valid, status });
    expect(res.status).toBe(201);
    expect(res.body.result.status).toBe(status);
  });

  it.each([
    [0, '"0" is not a valid choice.'],
    [6, '"6" is not a valid choice.'],
    [-1, '"-1" is not a valid choice.'],
    [2.5, '"2.5" is not a valid choice.'],
    ['2', '"2" is not a valid choice.'],
    ['READY', '"READY" is not a valid choice.'],
    [true, '"true" is not a valid choice.'],
    [null, 'This field may not be null.'],
  ])('refuses %j', async (value, message) => {
    await expectFieldError('status', value, [message]);
  });
});

describe('endpoint', () => {
  it.each([
    'sim://press-1',
    'sim://press-1?latency=200',
    'http://192.168.0.10:8080/imm/command',
    'https://imm.factory.example/api',
    'HTTP://EXAMPLE.COM/x',
    'opc.tcp://10.0.0.1:4840',
    'opc.tcp://imm-7.plant.example:4840/UA/IMM?device=IMM_4711&security=signandencrypt',
  ])('accepts %s', async (endpoint) => {
    const res = await create({ ...valid, endpoint });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.result.endpoint).toBe(endpoint);
  });

  it.each([
    [null, null],
    ['', null],
    ['   ', null],
    [' sim://a ', 'sim://a'],
  ])('stores %j as %j', async (endpoint, stored) => {
    const res = await create({ ...valid, endpoint });
    expect(res.status).toBe(201);
    expect(res.body.result.endpoint).toBe(stored);
  });

  it('is null when left out', async () => {
    expect((await create(valid)).body.result.endpoint).toBeNull();
  });

  it.each([
    'ftp://files.example/x',
    'opc.tcp://',
    'not a url',
    'http://',
    'sim:press',
    'sim://',
    'http://exa mple.com/',
    '//example.com',
    'javascript:alert(1)',
    'http://[::1',
  ])('refuses %j', async (endpoint) => {
    await expectFieldError('endpoint', endpoint, ['Enter a valid URL.']);
  });

  it('refuses more than 512 characters and accepts exactly 512', async () => {
    const prefix = 'https://example.com/';
    await expectFieldError('endpoint', prefix + 'a'.repeat(513 - prefix.length), [
      'Ensure this field has no more than 512 characters.',
    ]);
    const res = await create({ ...valid, endpoint: prefix + 'a'.repeat(512 - prefix.length) });
    expect(res.status).toBe(201);
  });

  it('refuses a number', async () => {
    await expectFieldError('endpoint', 80, ['Not a valid string.']);
  });
});

describe('owner_id (superuser)', () => {
  it.each([
    [0, 'Ensure this value is greater than or equal to 1.'],
    [-3, 'Ensure this value is greater than or equal to 1.'],
    [2_147_483_648, 'Ensure this value is less than or equal to 2147483647.'],
    [1.5, 'A valid integer is required.'],
    ['abc', 'A valid integer is required.'],
    ['7', 'A valid integer is required.'],
    [null, 'This field may not be null.'],
  ])('refuses %j', async (value, message) => {
    await expectFieldError('owner_id', value, [message], adminToken);
  });
});

describe('bodies', () => {
  it('reports every field at once', async () => {
    const res = await create({ name: '', location: null, status: 9, endpoint: 'ftp://x' });
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual({
      name: ['This field may not be blank.'],
      location: ['This field may not be null.'],
      status: ['"9" is not a valid choice.'],
      endpoint: ['Enter a valid URL.'],
    });
  });

  it('ignores unknown fields and the read-only id, created_at, updated_at', async () => {
    const res = await create({
      ...valid,
      id: 999_999,
      created_at: '2000-01-01T00:00:00Z',
      updated_at: '2000-01-01T00:00:00Z',
      last_operation_id: 77,
      color: 'blue',
    });
    expect(res.status).toBe(201);
    expect(res.body.result.id).not.toBe(999_999);
    expect(res.body.result.created_at).not.toBe('2000-01-01T00:00:00.000Z');
    expect(Object.keys(res.body.result).sort()).toEqual(
      ['created_at', 'endpoint', 'id', 'location', 'name', 'owner_id', 'status', 'updated_at'].sort(),
    );
    const row = (await h.sql('select last_operation_id from machines.machine where id = $1', [res.body.result.id]))[0];
    expect(row?.last_operation_id).toBeNull();
  });

  it.each([
    ['[1, 2]', 'list'],
    ['[]', 'list'],
    ['"text"', 'str'],
    ['12', 'int'],
    ['1.5', 'float'],
    ['true', 'bool'],
    ['null', 'NoneType'],
  ])('refuses the JSON body %s on non_field_errors', async (raw, got) => {
    const res = await call(h.base, 'POST', '/api/machines/', { token, rawBody: raw });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      status: 0,
      message: { non_field_errors: [`Invalid data. Expected a dictionary, but got ${got}.`] },
      error_code: 2,
    });
  });

  it('refuses a JSON array on PUT and PATCH too', async () => {
    const machine = (await create(valid)).body.result;
    for (const method of ['PUT', 'PATCH']) {
      const res = await call(h.base, method, `/api/machines/${machine.id}/`, { token, rawBody: '[{"name":"x"}]' });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    }
  });

  it('answers malformed JSON with a string message', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', { token, rawBody: '{"name": ' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 0, error_code: 2 });
    expect(typeof res.body.message).toBe('string');
  });

  it('answers a form body with 415', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', {
      token,
      rawBody: 'name=x&location=y',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error_code).toBe(8);
  });

  it('reads a missing body as {} (so: required fields)', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', { token });
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual({ name: ['This field is required.'], location: ['This field is required.'] });
  });

  it('speaks Korean on request', async () => {
    const res = await call(h.base, 'POST', '/api/machines/', { token, body: {}, headers: { 'accept-language': 'ko' } });
    expect(res.body.message.name).toEqual(['이 필드는 필수 항목입니다.']);
  });
});

describe('PUT and PATCH', () => {
  it('PUT needs name and location; optional fields left out keep their value', async () => {
    const machine = (await create({ ...valid, status: 3, endpoint: 'sim://a' })).body.result;
    const missing = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, { token, body: { status: 1 } });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toEqual({ name: ['This field is required.'], location: ['This field is required.'] });

    const res = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, {
      token,
      body: { name: 'renamed', location: 'moved' },
    });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ name: 'renamed', location: 'moved', status: 3, endpoint: 'sim://a' });
  });

  it('PUT can clear the endpoint with null', async () => {
    const machine = (await create({ ...valid, endpoint: 'sim://a' })).body.result;
    const res = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, {
      token,
      body: { ...valid, endpoint: null },
    });
    expect(res.body.result.endpoint).toBeNull();
  });

  it('PATCH changes only what it names and validates what it names', async () => {
    const machine = (await create(valid)).body.result;
    const bad = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { name: ' ' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toEqual({ name: ['This field may not be blank.'] });

    const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { location: 'Hall B' } });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ name: valid.name, location: 'Hall B', status: 2 });
    expect(Date.parse(res.body.result.updated_at)).toBeGreaterThan(Date.parse(machine.updated_at));
    expect(res.body.result.created_at).toBe(machine.created_at);
  });

  it('a failed validation changes nothing and records nothing', async () => {
    const machine = (await create(valid)).body.result;
    const before = await outboxSize();
    const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, {
      token,
      body: { location: 'moved', status: 42 },
    });
    expect(res.status).toBe(400);
    expect((await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token })).body.result).toEqual(machine);
    expect(await outboxSize()).toBe(before);
  });

  it('PATCH {} answers the machine unchanged, keeps updated_at and records nothing', async () => {
    const machine = (await create(valid)).body.result;
    const before = await outboxSize();
    const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: {} });
    expect(res.status).toBe(200);
    expect(res.body.result).toEqual(machine);
    expect(await outboxSize()).toBe(before);
  });
});

describe('paths', () => {
  it.each(['abc', '0', '-1', '99999999999', '2147483648', '1.5', '1e3', '%20'])(
    'answers 404 for id %j on every method',
    async (id) => {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
        const res = await call(h.base, method, `/api/machines/${id}/`, {
          token,
          body: method === 'GET' || method === 'DELETE' ? undefined : valid,
        });
        expect(res.status, `${method} ${id}`).toBe(404);
        expect(res.body).toMatchObject({ status: 0, error_code: 5 });
      }
    },
  );

  it('works with and without the trailing slash', async () => {
    const machine = (await create(valid)).body.result;
    expect((await call(h.base, 'GET', '/api/machines', { token })).status).toBe(200);
    expect((await call(h.base, 'GET', `/api/machines/${machine.id}`, { token })).status).toBe(200);
    expect((await call(h.base, 'POST', '/api/machines', { token, body: valid })).status).toBe(201);
  });

  it('answers other methods with 405 and Allow', async () => {
    const list = await call(h.base, 'DELETE', '/api/machines/', { token });
    expect(list.status).toBe(405);
    expect(list.headers.get('allow')).toBe('GET, POST, HEAD, OPTIONS');
    expect(list.body).toEqual({ status: 0, message: 'Method "DELETE" not allowed.', error_code: 6 });
    const one = await call(h.base, 'POST', '/api/machines/1/', { token, body: valid });
    expect(one.status).toBe(405);
    expect(one.headers.get('allow')).toBe('GET, PUT, PATCH, DELETE, HEAD, OPTIONS');
  });

  it('answers 201 with a Location header and the machine', async () => {
    const res = await create(valid);
    expect(res.headers.get('location')).toBe(`/api/machines/${res.body.result.id}/`);
    expect(res.body.result).toMatchObject({ ...valid, status: 2, owner_id: owner.id, endpoint: null });
    expect(res.body.result.created_at).toBe(res.body.result.updated_at);
    expect(new Date(res.body.result.created_at).toISOString()).toBe(res.body.result.created_at);
  });

  it('serves its OpenAPI document', async () => {
    const res = await call(h.base, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths).sort()).toEqual(['/api/machines/', '/api/machines/{id}/']);
    expect(Object.keys(res.body.paths['/api/machines/{id}/']).sort()).toEqual(['delete', 'get', 'patch', 'put']);
  });

  it('reports readiness of the database and NATS', async () => {
    const res = await call(h.base, 'GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body.result).toEqual({ database: 'ok', nats: 'ok' });
  });
});

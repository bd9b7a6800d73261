import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { matchRoute, routeTable } from '../src/routes-table';
import {
  accessClaims,
  makeSigningKey,
  type StandIn,
  signToken,
  startTestGateway,
  startUpstreams,
  type TestGateway,
  uniquePrefix,
  upstreamEnv,
} from './support';

let auth: StandIn;
let machines: StandIn;
let operations: StandIn;
let gw: TestGateway;
const key = makeSigningKey();
const token = signToken(key, accessClaims());
const standIns = () => [auth, machines, operations];

beforeAll(async () => {
  ({ auth, machines, operations } = await startUpstreams());
  auth.jwks = [key.jwk];
  gw = await startTestGateway({ ...upstreamEnv(auth, machines, operations), REDIS_PREFIX: uniquePrefix('routes') });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all(standIns().map((s) => s?.close()));
});

beforeEach(() => {
  for (const s of standIns()) s.seen.length = 0;
});

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${gw.url}${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...init.headers } });

const cases: [method: string, path: string, upstream: string][] = [
  ['POST', '/api/sign-up/', 'auth'],
  ['POST', '/api/sign-in/', 'auth'],
  ['POST', '/api/log-in/', 'auth'],
  ['POST', '/api/token/refresh/', 'auth'],
  ['GET', '/api/auth/jwks.json', 'auth'],
  ['POST', '/api/sign-out/', 'auth'],
  ['POST', '/api/log-out/', 'auth'],
  ['GET', '/api/me/', 'auth'],
  ['POST', '/api/me/password/', 'auth'],
  ['POST', '/api/users/12/deactivate/', 'auth'],
  ['GET', '/api/machines/history/', 'operations'],
  ['GET', '/api/user/machines/history/', 'operations'],
  ['POST', '/api/machines/12/operation/', 'operations'],
  ['GET', '/api/machines/12/history/', 'operations'],
  ['GET', '/api/machines/12/history/34/', 'operations'],
  ['GET', '/api/machines/', 'machines'],
  ['POST', '/api/machines/', 'machines'],
  ['GET', '/api/machines/12/', 'machines'],
  ['PATCH', '/api/machines/2147483647/', 'machines'],
  ['DELETE', '/api/machines/1/', 'machines'],
];

describe('route table', () => {
  it('covers every table route in these cases', () => {
    const patterns = new Set(cases.map(([, path]) => matchRoute(path)?.route.pattern));
    expect([...patterns].sort()).toEqual(routeTable.map((r) => r.pattern).sort());
  });

  for (const [method, path, upstream] of cases) {
    for (const variant of [path, path.endsWith('/') ? path.slice(0, -1) : `${path}/`]) {
      it(`${method} ${variant} → ${upstream}`, async () => {
        const body = method === 'GET' || method === 'DELETE' ? undefined : '{"a":1}';
        const response = await call(`${variant}?page=2`, {
          method,
          body,
          headers: body ? { 'Content-Type': 'application/json' } : {},
        });
        expect(response.status).toBe(200);
        const json = (await response.json()) as { result: { upstream: string } };
        expect(json.result.upstream).toBe(upstream);
        const target = standIns().find((s) => s.name === upstream)!;
        expect(target.seen).toHaveLength(1);
        expect(target.seen[0]).toMatchObject({ method, url: `${variant}?page=2`, body: body ?? '' });
        for (const other of standIns().filter((s) => s !== target)) expect(other.seen).toHaveLength(0);
      });
    }
  }

  for (const path of [
    '/api/machines/abc/',
    '/api/machines/0/',
    '/api/machines/-1/',
    '/api/machines/01/',
    '/api/machines/1.5/',
    '/api/machines/1e3/',
    '/api/machines/2147483648/',
    '/api/machines/99999999999999999999/',
    '/api/machines/%31/',
    '/api/machines/0/operation/',
    '/api/machines/x/history',
    '/api/machines/1/history/0/',
    '/api/machines/1/history/abc',
  ]) {
    it(`${path} is a 404 that reaches no service`, async () => {
      const response = await call(path);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ status: 0, message: 'Not found.', error_code: 5 });
      for (const s of standIns()) expect(s.seen).toHaveLength(0);
    });
  }

  for (const [method, path] of [
    ['GET', '/api/unknown/'],
    ['GET', '/api'],
    ['GET', '/api/machines/1/unknown/'],
    ['GET', '/api/machines//'],
    ['GET', '/API/machines/'],
    ['GET', '/'],
    ['POST', '/api/nothing-here/'],
  ]) {
    it(`${method} ${path} is the gateway's own 404`, async () => {
      const response = await call(path as string, {
        method,
        // Not JSON: an unknown route is 404, never 415, since the gateway parses no body.
        ...(method === 'POST' && { body: 'plain', headers: { 'Content-Type': 'text/plain' } }),
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        status: 0,
        message: 'The requested resource was not found on this server.',
        error_code: 5,
      });
      for (const s of standIns()) expect(s.seen).toHaveLength(0);
    });
  }

  it('answers 404 in Korean when asked', async () => {
    const response = await call('/api/unknown/', { headers: { 'Accept-Language': 'ko' } });
    expect(((await response.json()) as { message: string }).message).toBe(
      '요청한 리소스를 이 서버에서 찾을 수 없습니다.',
    );
  });
});

describe('what the services receive', () => {
  it('the body byte for byte, unparsed, with its content type', async () => {
    const body = '{"name": "press 1",   "location": "hall A", "x": "한글"}';
    const response = await call('/api/machines/', {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    expect(response.status).toBe(200);
    expect(machines.seen[0]?.body).toBe(body);
    expect(machines.seen[0]?.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('malformed JSON too: the service judges it', async () => {
    await call('/api/sign-in/', { method: 'POST', body: '{"user', headers: { 'Content-Type': 'application/json' } });
    expect(auth.seen[0]?.body).toBe('{"user');
  });

  it('the Authorization header unchanged, the bare token form included', async () => {
    await call('/api/me/');
    expect(auth.seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
    await call('/api/me/', { headers: { Authorization: token } });
    expect(auth.seen[1]?.headers.authorization).toBe(token);
  });

  it('the access cookie as a token', async () => {
    const response = await fetch(`${gw.url}/api/me/`, { headers: { Cookie: `access=${token}` } });
    expect(response.status).toBe(200);
    expect(auth.seen[0]?.headers.cookie).toBe(`access=${token}`);
  });

  it('the forwarding headers, the Host header unchanged', async () => {
    // fetch cannot set Host; node's client can.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/api/machines/`,
        { headers: { Host: 'api.example.com', Authorization: `Bearer ${token}` } },
        (res) => res.resume().on('end', resolve),
      );
      req.on('error', reject);
      req.end();
    });
    const headers = machines.seen[0]!.headers;
    expect(headers.host).toBe('api.example.com');
    expect(headers['x-forwarded-host']).toBe('api.example.com');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-for']).toMatch(/127\.0\.0\.1$/);
  });

  it('a client-sent X-Forwarded-For only as far as trust proxy believes it', async () => {
    // The test client is on loopback, which the default TRUST_PROXY trusts: its hop is kept.
    await call('/api/machines/', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(machines.seen[0]!.headers['x-forwarded-for']).toMatch(/^203\.0\.113\.9, .*127\.0\.0\.1$/);
  });
});

describe('request ids', () => {
  /** Raw headers, to count how many X-Request-Id lines the response has. */
  function rawGet(path: string, headers: Record<string, string>): Promise<{ ids: string[] }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${gw.url}${path}`, { headers }, (res) => {
        const ids: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]?.toLowerCase() === 'x-request-id') ids.push(res.rawHeaders[i + 1] as string);
        }
        res.resume();
        res.on('end', () => resolve({ ids }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it("keeps the client's id, passes it on, and answers with exactly that one", async () => {
    const { ids } = await rawGet('/api/machines/', { Authorization: `Bearer ${token}`, 'X-Request-Id': 'client-id-1' });
    expect(ids).toEqual(['client-id-1']);
    expect(machines.seen[0]?.headers['x-request-id']).toBe('client-id-1');
  });

  it('makes one when the client sent none (or an unusable one), and the service gets the same', async () => {
    const { ids } = await rawGet('/api/machines/', { Authorization: `Bearer ${token}`, 'X-Request-Id': 'bad id\t!' });
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(machines.seen[0]?.headers['x-request-id']).toBe(ids[0]);
  });

  it('on the gateway’s own answers too', async () => {
    const { ids } = await rawGet('/api/nope/', { 'X-Request-Id': 'client-id-2' });
    expect(ids).toEqual(['client-id-2']);
  });
});

describe('response headers', () => {
  it('security headers on API answers, nothing that names the framework', async () => {
    const response = await call('/api/machines/');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-powered-by')).toBeNull();
  });
});

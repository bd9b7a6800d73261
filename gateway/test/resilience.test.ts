import { request as httpRequest } from 'node:http';
import { Redis } from 'ioredis';
import { freePort } from '@imm/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
/** BODY_LIMIT 1kb, UPSTREAM_TIMEOUT_MS 300, CORS and ALLOWED_HOSTS set; operations is down. */
let gw: TestGateway;
const key = makeSigningKey();
const bearer = `Bearer ${signToken(key, accessClaims())}`;
const gateways: TestGateway[] = [];

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway(env);
  gateways.push(started);
  return started;
}

beforeAll(async () => {
  ({ auth, machines, operations } = await startUpstreams());
  auth.jwks = [key.jwk];
  await operations.close();
  gw = await gateway({
    ...upstreamEnv(auth, machines, operations),
    REDIS_PREFIX: uniquePrefix('resilience'),
    BODY_LIMIT: '1kb',
    UPSTREAM_TIMEOUT_MS: '300',
    CORS_ORIGINS: 'http://app.example.com,https://hmi.example.com:8443',
    ALLOWED_HOSTS: '127.0.0.1,.example.com',
  });
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all([auth?.close(), machines?.close()]);
});

beforeEach(() => {
  for (const s of [auth, machines]) s.seen.length = 0;
});

type Envelope = { status: number; message: unknown; error_code: number };

describe('services that fail', () => {
  it('a service that is down → 503, error_code 12, Retry-After', async () => {
    const response = await fetch(`${gw.url}/api/machines/history/`, { headers: { Authorization: bearer } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(await response.json()).toEqual({
      status: 0,
      message: 'A service is unavailable. Try again later.',
      error_code: 12,
    });
  });

  it('a service slower than UPSTREAM_TIMEOUT_MS → 504, error_code 12', async () => {
    const started = Date.now();
    const response = await fetch(`${gw.url}/api/machines/`, {
      headers: { Authorization: bearer, 'X-Test-Delay': '1500' },
    });
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1400);
    expect(await response.json()).toEqual({
      status: 0,
      message: 'A service did not answer in time. Try again later.',
      error_code: 12,
    });
    // The next request gets a fresh connection and its answer.
    const next = await fetch(`${gw.url}/api/machines/`, { headers: { Authorization: bearer } });
    expect(next.status).toBe(200);
  });

  it('/readyz names the service that is down; /healthz is still fine', async () => {
    const response = await fetch(`${gw.url}/readyz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as Envelope;
    expect(body.error_code).toBe(12);
    expect(Object.keys(body.message as object)).toEqual(['operations']);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('the JWKS unreachable → 503 for a protected route, nothing proxied', async () => {
    const noKeys = await gateway({
      ...upstreamEnv(auth, machines, operations),
      AUTH_JWKS_URL: `http://127.0.0.1:${await freePort()}/api/auth/jwks.json`,
      REDIS_PREFIX: uniquePrefix('nojwks'),
    });
    const response = await fetch(`${noKeys.url}/api/machines/`, { headers: { Authorization: bearer } });
    expect(response.status).toBe(503);
    expect(((await response.json()) as Envelope).error_code).toBe(12);
    expect(machines.seen).toHaveLength(0);
  });
});

describe('body limit', () => {
  const post = (body: string) =>
    fetch(`${gw.url}/api/machines/`, {
      method: 'POST',
      headers: { Authorization: bearer, 'Content-Type': 'application/json' },
      body,
    });

  it('a body at the limit passes', async () => {
    const response = await post(`"${'x'.repeat(1022)}"`);
    expect(response.status).toBe(200);
    expect(machines.seen[0]?.body).toHaveLength(1024);
  });

  it('a Content-Length over the limit → 413, error_code 2, nothing proxied', async () => {
    const response = await post(`"${'x'.repeat(1023)}"`);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ status: 0, message: 'Request body is larger than 1kb.', error_code: 2 });
    expect(machines.seen).toHaveLength(0);
  });

  /** Sends `total` bytes in 256-byte chunks without a Content-Length. */
  function chunked(total: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${gw.url}/api/machines/`, {
        method: 'POST',
        headers: { Authorization: bearer, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      // Writing after the gateway cut the upload fails; the answer is what counts.
      req.on('error', (error) => (req.writableEnded ? undefined : reject(error)));
      let sent = 0;
      const writeNext = () => {
        if (sent >= total || req.destroyed) return void req.end();
        const size = Math.min(256, total - sent);
        sent += size;
        req.write('x'.repeat(size));
        setTimeout(writeNext, 10);
      };
      writeNext();
    });
  }

  it('a streamed body past the limit is cut → 413, the service never gets a whole request', async () => {
    const { status, body } = await chunked(4096);
    expect(status).toBe(413);
    expect((JSON.parse(body) as Envelope).error_code).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(machines.seen).toHaveLength(0);
  });

  it('a streamed body under the limit arrives whole', async () => {
    const { status } = await chunked(1000);
    expect(status).toBe(200);
    expect(machines.seen[0]?.body).toHaveLength(1000);
  });
});

describe('rate limit', () => {
  it('per client per minute in Redis → 429 with Retry-After; health probes are exempt', async () => {
    const prefix = uniquePrefix('ratelimit');
    const limited = await gateway({
      ...upstreamEnv(auth, machines, operations),
      REDIS_PREFIX: prefix,
      RATE_LIMIT_PER_MINUTE: '5',
    });
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${limited.url}/api/sign-in/`, { method: 'POST' })).status).toBe(200);
    }
    const response = await fetch(`${limited.url}/api/sign-in/`, { method: 'POST' });
    expect(response.status).toBe(429);
    const wait = Number(response.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await response.json()).toEqual({
      status: 0,
      message: `Request was throttled. Expected available in ${wait} seconds.`,
      error_code: 9,
    });
    expect(auth.seen).toHaveLength(5);
    // Unknown routes and the docs count too; the probes do not.
    expect((await fetch(`${limited.url}/api/openapi.json`)).status).toBe(429);
    expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${limited.url}/readyz`)).status).toBe(503);

    const redis = new Redis(limited.config.REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:gateway:*`)).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });

  it('with Redis down, the in-memory limiter still limits and requests are still served', async () => {
    const noRedis = await gateway({
      ...upstreamEnv(auth, machines, operations),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_PREFIX: uniquePrefix('noredis'),
      RATE_LIMIT_PER_MINUTE: '3',
    });
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${noRedis.url}/api/sign-in/`, { method: 'POST' })).status).toBe(200);
    }
    const response = await fetch(`${noRedis.url}/api/sign-in/`, { method: 'POST' });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBeTruthy();
    const ready = await fetch(`${noRedis.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(Object.keys(((await ready.json()) as Envelope).message as object)).toContain('redis');
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(`${gw.url}/api/machines/`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });

  it('a preflight from an allowed origin is answered by the gateway, without a token', async () => {
    const response = await preflight('https://hmi.example.com:8443');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://hmi.example.com:8443');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(machines.seen).toHaveLength(0);
  });

  it('another origin is not allowed', async () => {
    const response = await preflight('https://evil.example.net');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${gw.url}/api/openapi.json`, { headers: { Origin: 'https://evil.example.net' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an allowed origin can read the answer and its request id, errors included', async () => {
    const response = await fetch(`${gw.url}/api/me/`, { headers: { Origin: 'http://app.example.com' } });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://app.example.com');
    expect(response.headers.get('access-control-expose-headers')).toBe('X-Request-Id,Retry-After,Location');
  });
});

describe('ALLOWED_HOSTS', () => {
  function getWithHost(path: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${gw.url}${path}`, { headers: { Host: host } }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('a Host not in the list → 400 host_not_allowed', async () => {
    const { status, body } = await getWithHost('/api/openapi.json', 'evil.example.net');
    expect(status).toBe(400);
    expect(JSON.parse(body)).toEqual({ status: 0, message: 'Invalid host header.', error_code: 2 });
  });

  it('listed hosts and subdomains of a dotted entry pass, any port', async () => {
    for (const host of ['example.com', 'api.example.com:8000', '127.0.0.1:1234']) {
      expect((await getWithHost('/api/openapi.json', host)).status).toBe(200);
    }
    expect((await getWithHost('/api/openapi.json', 'notexample.com')).status).toBe(400);
  });

  it('the health probes answer whatever the Host (probes use the pod address)', async () => {
    expect((await getWithHost('/healthz', '10.0.0.7:8000')).status).toBe(200);
  });
});

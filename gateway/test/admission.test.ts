import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { type RedisServerHandle, startRedisServer } from '@imm/testing';
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
const key = makeSigningKey();
const gateways: TestGateway[] = [];
const bearer = (claims: Record<string, unknown>) => `Bearer ${signToken(key, accessClaims(claims))}`;

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ ...upstreamEnv(auth, machines, operations), ...env });
  gateways.push(started);
  return started;
}

beforeAll(async () => {
  ({ auth, machines, operations } = await startUpstreams());
  auth.jwks = [key.jwk];
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all([auth?.close(), machines?.close(), operations?.close()]);
});

beforeEach(() => {
  for (const s of [auth, machines, operations]) s.seen.length = 0;
});

describe('rate limit per user and per address', () => {
  it('counts signed-in requests per user, wherever they come from, and anonymous ones per address', async () => {
    const prefix = uniquePrefix('peruser');
    const gw = await gateway({ REDIS_PREFIX: prefix, RATE_LIMIT_PER_USER_PER_MINUTE: '4', RATE_LIMIT_PER_MINUTE: '2' });
    const get = (authorization?: string) =>
      fetch(`${gw.url}/api/machines/`, { headers: authorization ? { Authorization: authorization } : {} });
    const alice = bearer({ user_id: 7 });
    const bob = bearer({ user_id: 8 });

    // One address, three clients: two users each get their own budget, more than the address's.
    for (let i = 0; i < 4; i++) expect((await get(alice)).status).toBe(200);
    const throttled = await get(alice);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('x-ratelimit-limit')).toBe('4');
    expect(await throttled.json()).toMatchObject({ status: 0, error_code: 9 });
    // A fresh token of the same user shares the user's budget.
    expect((await get(bearer({ user_id: 7, jti: 'another' }))).status).toBe(429);
    for (let i = 0; i < 4; i++) expect((await get(bob)).status).toBe(200);

    // Anonymous requests (and bad tokens) count against the address, apart from the users.
    expect((await fetch(`${gw.url}/api/sign-in/`, { method: 'POST' })).status).toBe(200);
    expect((await get('Bearer not-a-token')).status).toBe(401);
    const anonymous = await fetch(`${gw.url}/api/sign-in/`, { method: 'POST' });
    expect(anonymous.status).toBe(429);
    expect(anonymous.headers.get('x-ratelimit-limit')).toBe('2');
    expect(machines.seen).toHaveLength(8);

    const redis = new Redis(gw.config.REDIS_URL);
    try {
      expect((await redis.keys(`${prefix}:gateway:*`)).sort()).toEqual([
        `${prefix}:gateway:ip:127.0.0.1`,
        `${prefix}:gateway:user:7`,
        `${prefix}:gateway:user:8`,
      ]);
    } finally {
      redis.disconnect();
    }
  });

  it('has defaults sized for an integration polling a few hundred machines', async () => {
    const gw = await gateway({ REDIS_PREFIX: uniquePrefix('defaults') });
    expect(gw.config.RATE_LIMIT_PER_USER_PER_MINUTE).toBe(6000);
    expect(gw.config.RATE_LIMIT_PER_MINUTE).toBe(600);
  });
});

describe('not-before marks at the gateway', () => {
  it('refuses a token issued before its user’s or its session’s mark, and proxies nothing', async () => {
    const prefix = uniquePrefix('marks');
    const gw = await gateway({ REDIS_PREFIX: prefix });
    const redis = new Redis(gw.config.REDIS_URL);
    const now = Math.floor(Date.now() / 1000);
    try {
      await redis.set(`${prefix}:nbf:user:21`, String(now), 'EX', 60);
      await redis.set(`${prefix}:nbf:session:s-ended`, String(now), 'EX', 60);
      const get = (claims: Record<string, unknown>) =>
        fetch(`${gw.url}/api/machines/1/`, { headers: { Authorization: bearer(claims) } });

      const outdated = await get({ user_id: 21, iat: now - 5 });
      expect(outdated.status).toBe(401);
      expect(await outdated.json()).toEqual({ status: 0, message: 'Token is blacklisted', error_code: 3 });
      expect((await get({ user_id: 22, sid: 's-ended', iat: now - 5 })).status).toBe(401);
      expect(machines.seen).toHaveLength(0);

      // After the mark, or another session of the same user: accepted.
      expect((await get({ user_id: 21, iat: now + 1 })).status).toBe(200);
      expect((await get({ user_id: 22, sid: 's-live', iat: now - 5 })).status).toBe(200);
      expect(machines.seen).toHaveLength(2);
    } finally {
      redis.disconnect();
    }
  });
});

describe('one Redis round trip per request', () => {
  it('sends the rate-limit count and the not-before read together, in one write', async () => {
    // A TCP proxy of the test's own in front of the shared Redis counts the gateway's writes.
    let writes = 0;
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => socket.destroy());
      }
      client.on('data', (chunk) => {
        writes += 1;
        upstream.write(chunk);
      });
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const gw = await gateway({
        REDIS_URL: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        REDIS_PREFIX: uniquePrefix('roundtrip'),
      });
      const get = () => fetch(`${gw.url}/api/machines/`, { headers: { Authorization: bearer({ user_id: 31 }) } });
      expect((await get()).status).toBe(200); // loads the rate-limit script
      const before = writes;
      for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
      expect(writes - before).toBe(10);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('a stalled Redis', () => {
  let own: RedisServerHandle;
  beforeAll(async () => {
    own = await startRedisServer();
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('connected but not answering (CLIENT PAUSE): requests are answered within the timeout, still limited', async () => {
    const gw = await gateway({
      REDIS_URL: own.url,
      REDIS_PREFIX: uniquePrefix('paused'),
      REDIS_TIMEOUT_MS: '200',
      RATE_LIMIT_PER_MINUTE: '3',
    });
    const timed = async (path: string, init: RequestInit = {}) => {
      const started = performance.now();
      const response = await fetch(`${gw.url}${path}`, init);
      return { status: response.status, ms: performance.now() - started };
    };
    expect((await timed('/api/machines/', { headers: { Authorization: bearer({ user_id: 9 }) } })).status).toBe(200);

    const admin = new Redis(own.url);
    try {
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
      const signedIn = await timed('/api/machines/', { headers: { Authorization: bearer({ user_id: 9 }) } });
      expect(signedIn.status).toBe(200);
      expect(signedIn.ms).toBeLessThan(1500);
      const anonymous = await Promise.all([1, 2, 3, 4].map(() => timed('/api/sign-in/', { method: 'POST' })));
      for (const { ms } of anonymous) expect(ms).toBeLessThan(1500);
      // Counted in memory meanwhile: the address still has only its three.
      expect(anonymous.map((a) => a.status).sort()).toEqual([200, 200, 200, 429]);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
  });
});

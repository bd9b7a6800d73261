import { freePort } from '@imm/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestDatabase, newUser, startService, type TestService, testSettings } from './service';

const limits = {
  SIGNIN_MAX_FAILURES_PER_PAIR: '3',
  SIGNIN_MAX_FAILURES_PER_IP: '5',
  SIGNIN_USERNAME_DELAY_AFTER: '4',
  SIGNIN_USERNAME_DELAY_BASE_MS: '300',
  SIGNIN_USERNAME_DELAY_MAX_MS: '600',
  SIGNIN_FAILURE_WINDOW: '900',
  SIGNUP_MAX_PER_IP: '3',
};
const settings = testSettings('auth_throttle', limits);
let service: TestService;
const users = ['victim', 'steady', 'neighbour', 'target', 'crowd'];

beforeAll(async () => {
  service = await startService(settings);
  // Each from an address of its own: sign-ups are throttled per address too.
  for (const [i, name] of users.entries()) {
    const response = await service.call('POST', '/api/sign-up/', {
      body: newUser(name),
      headers: { 'x-forwarded-for': `192.0.2.${100 + i}` },
    });
    expect(response.status).toBe(201);
  }
});

afterAll(async () => {
  await service?.stop();
  await dropTestDatabase(settings.DATABASE_URL as string);
});

/** The service trusts X-Forwarded-For from loopback (the gateway), so each test can be its own client. */
function signIn(svc: TestService, username: string, password: string, address: string, language?: string) {
  return svc.call('POST', '/api/sign-in/', {
    body: { username, password },
    headers: { 'x-forwarded-for': address, ...(language ? { 'accept-language': language } : {}) },
  });
}

describe('sign-in throttling', () => {
  it('takes each attempt before checking the password: parallel guesses get 429 beyond the limit', async () => {
    const guesses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => signIn(service, 'crowd', `wrong guess ${i}`, '203.0.113.50')),
    );
    const statuses = guesses.map((g) => g.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(57);
    const refused = guesses.find((g) => g.status === 429);
    expect(refused?.body).toMatchObject({ status: 0, error_code: 9 });
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses the guessing (username, address) pair, even with the right password, and no one else', async () => {
    for (let i = 0; i < 3; i++)
      expect((await signIn(service, 'victim', 'wrong guess', '203.0.113.1')).status).toBe(401);
    const blocked = await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.1');
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ status: 0, error_code: 9 });
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(blocked.body.message).toBe(`Request was throttled. Expected available in ${retryAfter} seconds.`);
    // Any spelling of the name is the same pair.
    expect((await signIn(service, 'VICTIM', 'whatever', '203.0.113.1')).status).toBe(429);
    const korean = await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.1', 'ko');
    expect(korean.body.message).toMatch(/^요청이 지연\(throttled\)되었습니다\. \d+초 후에 다시 시도하십시오\.$/);

    // The real user, elsewhere, is not locked out by the guesser.
    expect((await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.2')).status).toBe(200);
  });

  it('starts a pair over after a successful sign-in', async () => {
    // Four failures in all from one address: past the pair's three unless the success reset it.
    const address = '203.0.113.20';
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await signIn(service, 'steady', 'typo', address)).status).toBe(401);
      expect((await signIn(service, 'steady', 'pw-steady-secret', address)).status).toBe(200);
    }
  });

  it('refuses an address that tries too many usernames', async () => {
    const address = '198.51.100.7';
    for (let i = 0; i < 5; i++) expect((await signIn(service, `guess${i}`, 'password1', address)).status).toBe(401);
    expect((await signIn(service, 'neighbour', 'pw-neighbour-secret', address)).status).toBe(429);
    // Other clients are not affected.
    expect((await signIn(service, 'neighbour', 'pw-neighbour-secret', '198.51.100.8')).status).toBe(200);
  });

  it('counts an overlong username by its digest: throttled like any other, its keys stay short', async () => {
    const long = 'x'.repeat(20_000);
    for (let i = 0; i < 3; i++) expect((await signIn(service, long, 'wrong guess', '203.0.113.90')).status).toBe(401);
    expect((await signIn(service, long, 'wrong guess', '203.0.113.90')).status).toBe(429);
    const redis = new Redis(settings.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const keys = await redis.keys(`${settings.REDIS_PREFIX}:signin:*`);
      expect(Math.max(...keys.map((key) => key.length))).toBeLessThan(300);
    } finally {
      redis.disconnect();
    }
  });

  it('slows down, never locks, a username guessed from many addresses', async () => {
    // One guess from each of many addresses: no pair and no address reaches its limit.
    for (let i = 0; i < 6; i++)
      expect((await signIn(service, 'target', 'wrong guess', `198.18.0.${i + 1}`)).status).toBe(401);
    const started = performance.now();
    const rightOne = await signIn(service, 'target', 'pw-target-secret', '198.18.1.1');
    const waited = performance.now() - started;
    expect(rightOne.status).toBe(200);
    // Seven failures counted with four free: 300 ms doubled twice, capped at 600 ms.
    expect(waited).toBeGreaterThanOrEqual(550);
  });
});

describe('sign-up throttling and the bounded password work', () => {
  it('refuses a fourth sign-up from one address with 429, and creates nothing', async () => {
    const address = '203.0.113.77';
    for (let i = 0; i < 3; i++) {
      const ok = await service.call('POST', '/api/sign-up/', {
        body: newUser(`spree${i}`),
        headers: { 'x-forwarded-for': address },
      });
      expect(ok.status).toBe(201);
    }
    const refused = await service.call('POST', '/api/sign-up/', {
      body: newUser('spree3'),
      headers: { 'x-forwarded-for': address },
    });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ status: 0, error_code: 9 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect((await signIn(service, 'spree3', 'pw-spree3-secret', '203.0.113.78')).status).toBe(401);
    // Another address signs up as usual.
    const elsewhere = await service.call('POST', '/api/sign-up/', {
      body: newUser('spree3'),
      headers: { 'x-forwarded-for': '203.0.113.79' },
    });
    expect(elsewhere.status).toBe(201);
  });

  it('answers a burst beyond the hashing queue with a quick 503 instead of a growing wait', async () => {
    const busy = testSettings('auth_busy', {
      BCRYPT_ROUNDS: '12',
      PASSWORD_WORK_CONCURRENCY: '1',
      PASSWORD_WORK_QUEUE: '1',
    });
    const small = await startService(busy);
    try {
      const burst = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const started = performance.now();
          const response = await signIn(small, `nobody${i}`, 'some password', `198.51.100.${100 + i}`);
          return { response, ms: performance.now() - started };
        }),
      );
      const refused = burst.filter((b) => b.response.status === 503);
      const checked = burst.filter((b) => b.response.status === 401);
      // One running and one waiting: those two are checked; the others refused at once.
      expect(checked.length).toBeGreaterThanOrEqual(2);
      expect(refused.length).toBeGreaterThanOrEqual(8);
      expect(refused.length + checked.length).toBe(12);
      for (const { response } of refused) {
        expect(response.body).toMatchObject({ status: 0, error_code: 12 });
        expect(response.headers.get('retry-after')).toBe('1');
      }
      const slowestCheck = Math.max(...checked.map((b) => b.ms));
      const slowestRefusal = Math.max(...refused.map((b) => b.ms));
      expect(slowestRefusal).toBeLessThan(slowestCheck);
    } finally {
      await small.stop();
      await dropTestDatabase(busy.DATABASE_URL as string);
    }
  });
});

describe('without Redis', () => {
  it('keeps signing in, throttled per process, and reports Redis as not ready', async () => {
    const offline = testSettings('auth_noredis', { ...limits, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const lonely = await startService(offline);
    try {
      const ready = await lonely.call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(Object.keys(ready.body.message)).toEqual(['redis']);

      expect((await signIn(lonely, 'admin', '1qaz2wsx', '192.0.2.1')).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await signIn(lonely, 'admin', 'nope', '192.0.2.1')).status).toBe(401);
      const blocked = await signIn(lonely, 'admin', '1qaz2wsx', '192.0.2.1');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await lonely.stop();
      await dropTestDatabase(offline.DATABASE_URL as string);
    }
  });
});

import { freePort } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestDatabase, newUser, startService, type TestService, testSettings } from './service';

const limits = { SIGNIN_MAX_FAILURES_PER_USERNAME: '3', SIGNIN_MAX_FAILURES_PER_IP: '5', SIGNIN_FAILURE_WINDOW: '900' };
const settings = testSettings('auth_throttle', limits);
let service: TestService;

beforeAll(async () => {
  service = await startService(settings);
  for (const name of ['victim', 'steady', 'neighbour']) {
    expect((await service.call('POST', '/api/sign-up/', { body: newUser(name) })).status).toBe(201);
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
  it('refuses a username with 429 and Retry-After after too many failures, even with the right password', async () => {
    for (let i = 0; i < 3; i++)
      expect((await signIn(service, 'victim', 'wrong guess', '203.0.113.1')).status).toBe(401);
    const blocked = await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.1');
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ status: 0, error_code: 9 });
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(blocked.body.message).toBe(`Request was throttled. Expected available in ${retryAfter} seconds.`);

    // From another address too: the username is what is being guessed. And any spelling of it.
    expect((await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.2')).status).toBe(429);
    expect((await signIn(service, 'VICTIM', 'whatever', '203.0.113.2')).status).toBe(429);
    const korean = await signIn(service, 'victim', 'pw-victim-secret', '203.0.113.2', 'ko');
    expect(korean.body.message).toMatch(/^요청이 지연\(throttled\)되었습니다\. \d+초 후에 다시 시도하십시오\.$/);
  });

  it('starts a username over after a successful sign-in', async () => {
    // Each round from another address: an address's count is not reset by a success.
    for (let round = 0; round < 3; round++) {
      const address = `203.0.113.${20 + round}`;
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

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { type RunningSystem, startSystem } from '@imm/testing';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';

/**
 * The auth flows (users and tokens) through the gateway, with every process started as
 * `npm start` starts them. The signing key is given to the system, so the test can also make
 * tokens that a client could never get (expired ones) with the real key.
 */
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();

let system: RunningSystem;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  system = await startSystem({ JWT_PRIVATE_KEY: privatePem, SIGNIN_MAX_FAILURES_PER_PAIR: '5' });
  api = apiClient(system.url);
});
afterAll(async () => {
  await system?.stop();
});

/** The name-prefixed lines of every process that logged this request id. */
function processesThatSaw(requestId: string): string[] {
  return system
    .output()
    .split('\n')
    .filter((line) => line.includes(requestId))
    .map((line) => /^\[(\w+)/.exec(line)?.[1] ?? '?');
}

describe('sign-up, sign-in, me, refresh, sign-out', () => {
  it('runs the whole life of a session', async () => {
    const user = await api.newUser('life');

    const signIn = await api.call('POST', '/api/sign-in/', {
      body: { username: user.username, password: user.password },
    });
    expect(signIn.status).toBe(200);
    expect(signIn.body.status).toBe(1);
    expect(signIn.body.result.user).toMatchObject({ id: user.id, username: user.username, is_superuser: false });
    expect(JSON.stringify(signIn.body)).not.toContain(user.password);
    const cookies = signIn.headers.getSetCookie().join('\n');
    expect(cookies).toMatch(/access=.*HttpOnly/i);
    expect(cookies).toMatch(/refresh=.*HttpOnly/i);

    const { access, refresh } = signIn.body.result.token;
    const me = await api.call('GET', '/api/me/', { token: access });
    expect(me.status).toBe(200);
    expect(me.body.result.user.username).toBe(user.username);

    const refreshed = await api.call('POST', '/api/token/refresh/', { body: { refresh } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.result.access).toEqual(expect.any(String));
    expect(refreshed.body.result.refresh).not.toBe(refresh);

    const newAccess = refreshed.body.result.access;
    const newRefresh = refreshed.body.result.refresh;
    const signOut = await api.call('POST', '/api/sign-out/', { token: newAccess, body: { refresh: newRefresh } });
    expect(signOut.status).toBe(200);

    const afterSignOut = await api.call('POST', '/api/token/refresh/', { body: { refresh: newRefresh } });
    expect(afterSignOut.status).toBe(401);
    expect(afterSignOut.body).toMatchObject({ status: 0, error_code: 3 });
  });

  it('accepts the old aliases and a token without the Bearer scheme', async () => {
    const user = await api.newUser('alias');
    const logIn = await api.call('POST', '/api/log-in/', {
      body: { username: user.username, password: user.password },
    });
    expect(logIn.status).toBe(200);
    const bare = await api.call('GET', '/api/me', { headers: { Authorization: logIn.body.result.token.access } });
    expect(bare.status).toBe(200);
    const logOut = await api.call('POST', '/api/log-out', {
      token: logIn.body.result.token.access,
      body: { refresh: logIn.body.result.token.refresh },
    });
    expect(logOut.status).toBe(200);
  });

  it('revokes the whole family when a rotated refresh token is used again', async () => {
    const user = await api.newUser('reuse');
    const first = await api.call('POST', '/api/token/refresh/', { body: { refresh: user.refresh } });
    expect(first.status).toBe(200);
    const reused = await api.call('POST', '/api/token/refresh/', { body: { refresh: user.refresh } });
    expect(reused.status).toBe(401);
    // The token the thief (or the owner) got from the first rotation is now dead too.
    const successor = await api.call('POST', '/api/token/refresh/', { body: { refresh: first.body.result.refresh } });
    expect(successor.status).toBe(401);
  });

  it('signs in the seeded admin as a superuser', async () => {
    const response = await api.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
    expect(response.status).toBe(200);
    expect(response.body.result.user).toMatchObject({ username: 'admin', is_superuser: true, is_staff: true });
  });
});

describe('tokens the gateway refuses before any service sees them', () => {
  const kid = () => {
    const header = jwt.decode(tokenForKid, { complete: true })?.header;
    return String(header?.kid);
  };
  let tokenForKid: string;
  let userId: number;
  let refreshToken: string;
  const claims = () => ({
    token_type: 'access',
    user_id: userId,
    jti: randomUUID().replaceAll('-', ''),
    username: 'x',
    is_staff: false,
    is_superuser: true,
  });

  beforeAll(async () => {
    const user = await api.newUser('tokens');
    tokenForKid = user.access;
    userId = user.id;
    refreshToken = user.refresh;
  });

  const cases: Record<string, () => string> = {
    expired: () =>
      jwt.sign(
        { ...claims(), iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 },
        privatePem,
        {
          algorithm: 'ES256',
          keyid: kid(),
        },
      ),
    forged: () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      return jwt.sign(claims(), other, { algorithm: 'ES256', keyid: kid(), expiresIn: 600 });
    },
    'alg none': () => {
      const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      return `${encode({ alg: 'none', typ: 'JWT', kid: kid() })}.${encode({ ...claims(), iat: now, exp: now + 600 })}.`;
    },
    'HS256 signed with the public key': () =>
      jwt.sign(claims(), publicPem, { algorithm: 'HS256', keyid: kid(), expiresIn: 600 }),
    'wrong kid': () => jwt.sign(claims(), privatePem, { algorithm: 'ES256', keyid: 'not-a-key', expiresIn: 600 }),
    'refresh token as access token': () => refreshToken,
    garbage: () => 'not.a.token',
  };

  for (const [name, make] of Object.entries(cases)) {
    it(`refuses ${name} with 401, and no service sees the request`, async () => {
      const requestId = `e2e-${randomUUID()}`;
      const response = await api.call('GET', '/api/me/', { token: make(), headers: { 'X-Request-Id': requestId } });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ status: 0, error_code: 3 });
      expect(response.headers.get('x-request-id')).toBe(requestId);
      // The gateway logged it; give logs a moment to flush, then no other process may have.
      await expect.poll(() => processesThatSaw(requestId)).toContain('gateway');
      expect(processesThatSaw(requestId).filter((name) => name !== 'gateway')).toEqual([]);
    });
  }

  it('accepts a valid token made with the real key, and carries the request id to the service', async () => {
    const requestId = `e2e-${randomUUID()}`;
    const token = jwt.sign({ ...claims(), is_superuser: false }, privatePem, {
      algorithm: 'ES256',
      keyid: kid(),
      expiresIn: 600,
    });
    const response = await api.call('GET', '/api/me/', { token, headers: { 'X-Request-Id': requestId } });
    expect(response.status).toBe(200);
    await expect.poll(() => processesThatSaw(requestId)).toContain('auth');
  });
});

describe('sign-up rules', () => {
  it('cannot make a superuser, staff or inactive user', async () => {
    const username = `sneaky_${randomUUID().slice(0, 8)}`;
    const response = await api.call('POST', '/api/sign-up/', {
      body: {
        username,
        email: `${username}@example.com`,
        password: 'molding-42x',
        first_name: 'S',
        last_name: 'N',
        is_superuser: true,
        is_staff: true,
        is_active: false,
      },
    });
    expect(response.status).toBe(201);
    expect(response.body.result.user).toMatchObject({ is_superuser: false, is_staff: false, is_active: true });
  });

  it('answers duplicate usernames and emails (any case) with field messages', async () => {
    const user = await api.newUser('dup');
    const again = await api.call('POST', '/api/sign-up/', {
      body: {
        username: user.username,
        email: `${user.username}@EXAMPLE.com`.toUpperCase(),
        password: 'molding-42x',
        first_name: 'A',
        last_name: 'B',
      },
    });
    expect(again.status).toBe(400);
    expect(again.body.error_code).toBe(2);
    expect(again.body.message.username).toEqual([expect.any(String)]);
    const email = await api.call('POST', '/api/sign-up/', {
      body: {
        username: `other_${randomUUID().slice(0, 8)}`,
        email: `${user.username}@EXAMPLE.com`.toUpperCase(),
        password: 'molding-42x',
        first_name: 'A',
        last_name: 'B',
      },
    });
    expect(email.status).toBe(400);
    expect(email.body.message.email).toEqual([expect.any(String)]);
  });

  it('throttles brute force on one username with 429 and Retry-After', async () => {
    const user = await api.newUser('brute');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await api.call('POST', '/api/sign-in/', {
        body: { username: user.username, password: `wrong-${i}-pass` },
      });
      statuses.push(response.status);
      if (response.status === 429) {
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(response.body.error_code).toBe(9);
      }
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    // Even the right password is refused while throttled.
    const right = await api.call('POST', '/api/sign-in/', {
      body: { username: user.username, password: user.password },
    });
    expect(right.status).toBe(429);
  });
});

describe('the envelope at the edges', () => {
  it('answers an unknown route with a 404 envelope', async () => {
    const response = await api.call('GET', '/api/no-such-thing/');
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ status: 0, error_code: 5 });
  });

  it('answers malformed JSON with a 400 envelope whose message is a string', async () => {
    const response = await api.call('POST', '/api/sign-in/', {
      raw: '{"username": "a",',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error_code).toBe(2);
    expect(typeof response.body.message).toBe('string');
  });

  it('serves paths with and without the trailing slash, without redirects', async () => {
    const user = await api.newUser('slash');
    for (const path of ['/api/me', '/api/me/']) {
      const response = await api.call('GET', path, { token: user.access });
      expect(response.status, path).toBe(200);
    }
  });

  it('speaks Korean when asked', async () => {
    const response = await api.call('GET', '/api/me/', { headers: { 'Accept-Language': 'ko-KR,ko;q=0.9' } });
    expect(response.status).toBe(401);
    expect(response.body.message).toMatch(/[가-힣]/);
    const english = await api.call('GET', '/api/me/');
    expect(english.body.message).toMatch(/^[\x20-\x7e]+$/);
  });

  it('echoes a request id, or makes one', async () => {
    const response = await fetch(`${system.url}/api/me/`);
    expect(response.headers.get('x-request-id')).toMatch(/.{8,}/);
  });
});

describe('secrets in logs', () => {
  it('never writes a password or a token to any process log', async () => {
    const user = await api.newUser('secret');
    await api.call('POST', '/api/sign-in/', { body: { username: user.username, password: user.password } });
    await api.call('POST', '/api/sign-in/', { body: { username: user.username, password: `${user.password}-wrong` } });
    await api.call('GET', '/api/me/', { token: user.access });
    const requestId = `e2e-${randomUUID()}`;
    await api.call('GET', '/api/me/', { token: user.access, headers: { 'X-Request-Id': requestId } });
    await expect.poll(() => processesThatSaw(requestId)).toContain('auth');
    const output = system.output();
    expect(output).not.toContain(user.password);
    expect(output).not.toContain(user.access);
    expect(output).not.toContain(user.refresh);
    expect(output).not.toContain('1qaz2wsx');
  });
});

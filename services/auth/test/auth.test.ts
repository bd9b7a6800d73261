import { createTokenVerifier, remoteKeySource } from '@imm/auth';
import { Validator } from '@seriousme/openapi-schema-validator';
import { connectBus, startConsumer } from '@imm/bus';
import type { EventEnvelope } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import { query, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimsOf,
  djangoHash,
  dropTestDatabase,
  headerOf,
  newUser,
  startService,
  type TestService,
  testSettings,
} from './service';

const settings = testSettings('auth', { ACCESS_TOKEN_LIFETIME: '600', REFRESH_TOKEN_LIFETIME: '7200' });
let service: TestService;

beforeAll(async () => {
  service = await startService(settings);
});

afterAll(async () => {
  await service?.stop();
  await dropTestDatabase(settings.DATABASE_URL as string);
});

async function signUp(username: string, extra: Record<string, unknown> = {}) {
  const response = await service.call('POST', '/api/sign-up/', { body: newUser(username, extra) });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.result as { user: Record<string, unknown>; token: { access: string; refresh: string } };
}

async function signIn(username: string, password: string, path = '/api/sign-in/') {
  return service.call('POST', path, { body: { username, password } });
}

describe('sign-up and sign-in', () => {
  it('signs up, returns the user and a token pair, and sets HttpOnly cookies', async () => {
    const response = await service.call('POST', '/api/sign-up/', { body: newUser('alice') });
    expect(response.status).toBe(201);
    expect(response.body.status).toBe(1);
    const { user, token } = response.body.result;
    expect(user).toEqual({
      id: expect.any(Number),
      username: 'alice',
      email: 'alice@example.com',
      first_name: 'First',
      last_name: 'Last',
      is_staff: false,
      is_active: true,
      is_superuser: false,
      last_login: expect.any(String),
      date_joined: expect.any(String),
    });
    expect(JSON.stringify(response.body)).not.toContain('password');
    expect(claimsOf(token.access)).toMatchObject({ token_type: 'access', user_id: user.id, username: 'alice' });

    const cookies = response.headers.getSetCookie();
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toMatch(
      /^access=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/,
    );
    expect(cookies[1]).toMatch(
      /^refresh=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=7200; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/,
    );
    expect(cookies.join()).not.toContain('Secure'); // DEV
  });

  it('cannot make a superuser, staff member or inactive user', async () => {
    const { user, token } = await signUp('mallory', { is_superuser: true, is_staff: true, is_active: false });
    expect(user).toMatchObject({ is_superuser: false, is_staff: false, is_active: true });
    expect(claimsOf(token.access)).toMatchObject({ is_superuser: false, is_staff: false });
    const [row] = await query(
      settings.DATABASE_URL as string,
      'select is_superuser, is_staff, is_active from auth.users where username = $1',
      ['mallory'],
    );
    expect(row).toEqual({ is_superuser: false, is_staff: false, is_active: true });
  });

  it('refuses duplicate usernames, and emails in any case, with field messages', async () => {
    await signUp('dup');
    const sameName = await service.call('POST', '/api/sign-up/', {
      body: newUser('dup', { email: 'other@example.com' }),
    });
    expect(sameName.status).toBe(400);
    expect(sameName.body).toEqual({
      status: 0,
      error_code: 2,
      message: { username: ['A user with that username already exists.'] },
    });
    const sameEmail = await service.call('POST', '/api/sign-up/', {
      body: newUser('dup2', { email: 'DUP@Example.COM' }),
    });
    expect(sameEmail.status).toBe(400);
    expect(sameEmail.body.message).toEqual({ email: ['A user with that email already exists.'] });
  });

  it('answers a race of two identical sign-ups with one user and one field message', async () => {
    const [a, b] = await Promise.all([
      service.call('POST', '/api/sign-up/', { body: newUser('racer') }),
      service.call('POST', '/api/sign-up/', { body: newUser('racer') }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 400]);
    const refused = a.status === 400 ? a : b;
    expect(Object.keys(refused.body.message)).toEqual(expect.arrayContaining(['username']));
    const rows = await query(settings.DATABASE_URL as string, 'select id from auth.users where username = $1', [
      'racer',
    ]);
    expect(rows).toHaveLength(1);
  });

  it('validates every field at once, in English or Korean', async () => {
    const body = {
      username: 'bad name!',
      email: 'nope',
      password: '12345678',
      first_name: ' ',
      last_name: 'x'.repeat(151),
    };
    const english = await service.call('POST', '/api/sign-up/', { body });
    expect(english.status).toBe(400);
    expect(english.body.message).toEqual({
      username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
      email: ['Enter a valid email address.'],
      first_name: ['This field may not be blank.'],
      last_name: ['Ensure this field has no more than 150 characters.'],
      password: ['This password is entirely numeric.'],
    });
    const korean = await service.call('POST', '/api/sign-up/', { body, headers: { 'accept-language': 'ko' } });
    expect(korean.body.message.password).toEqual(['비밀번호가 전부 숫자로 되어 있습니다.']);

    const same = await service.call('POST', '/api/sign-up/', { body: newUser('Samantha', { password: 'samantha' }) });
    expect(same.body.message).toEqual({ password: ['The password is too similar to the username.'] });
    const long = await service.call('POST', '/api/sign-up/', {
      body: newUser('longpw', { password: '가'.repeat(25) }),
    });
    expect(long.body.message).toEqual({ password: ['This password is too long. It must contain at most 72 bytes.'] });
    const blank = await service.call('POST', '/api/sign-up/', { body: newUser('blankpw', { password: '' }) });
    expect(blank.body.message).toEqual({ password: ['This field may not be blank.'] });
    const missing = await service.call('POST', '/api/sign-up/', { body: {} });
    expect(Object.keys(missing.body.message).sort()).toEqual([
      'email',
      'first_name',
      'last_name',
      'password',
      'username',
    ]);
  });

  it('signs in (and through the log-in alias), updating last_login', async () => {
    const { user } = await signUp('bob');
    const before = await query<{ last_login: Date }>(
      settings.DATABASE_URL as string,
      'select last_login from auth.users where id = $1',
      [user.id],
    );
    // Full-width letters name the same account, as Django normalizes usernames to NFKC.
    for (const [path, name] of [
      ['/api/sign-in/', 'bob'],
      ['/api/log-in/', 'ｂｏｂ'],
    ] as const) {
      const response = await signIn(name, 'pw-bob-secret', path);
      expect(response.status).toBe(200);
      expect(response.body.result.user.username).toBe('bob');
      expect(Object.keys(response.body.result.token).sort()).toEqual(['access', 'refresh']);
      expect(response.headers.getSetCookie()).toHaveLength(2);
    }
    const [after] = await query<{ last_login: Date }>(
      settings.DATABASE_URL as string,
      'select last_login from auth.users where id = $1',
      [user.id],
    );
    expect(after?.last_login.getTime()).toBeGreaterThan(before[0]?.last_login.getTime() ?? 0);
  });

  it('gives one answer for an unknown user, a wrong password and an inactive user', async () => {
    await signUp('sleepy');
    await query(settings.DATABASE_URL as string, 'update auth.users set is_active = false where username = $1', [
      'sleepy',
    ]);
    const answers = await Promise.all([
      signIn('nobody-here', 'pw-whatever-1'),
      signIn('bob', 'wrong password'),
      signIn('sleepy', 'pw-sleepy-secret'),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        status: 0,
        error_code: 3,
        message: 'No active account found with the given credentials',
      });
    }
    const korean = await service.call('POST', '/api/sign-in/', {
      body: { username: 'nobody-here', password: 'x' },
      headers: { 'accept-language': 'ko' },
    });
    expect(korean.body.message).toBe('지정된 자격 증명에 해당하는 활성화된 사용자를 찾을 수 없습니다');
  });

  it('verifies a password imported from Django and rehashes it to bcrypt', async () => {
    const url = settings.DATABASE_URL as string;
    await query(
      url,
      `insert into auth.users (password, username, first_name, last_name, email, date_joined)
       values ($1, 'legacy', 'Old', 'Timer', 'legacy@example.com', now() - interval '3 years')`,
      [djangoHash('from-the-django-days')],
    );
    expect((await signIn('legacy', 'not it')).status).toBe(401);
    const [unchanged] = await query<{ password: string }>(
      url,
      "select password from auth.users where username = 'legacy'",
    );
    expect(unchanged?.password).toMatch(/^pbkdf2_sha256\$390000\$/);

    expect((await signIn('legacy', 'from-the-django-days')).status).toBe(200);
    const [rehashed] = await query<{ password: string }>(
      url,
      "select password from auth.users where username = 'legacy'",
    );
    expect(rehashed?.password).toMatch(/^\$2b\$10\$/);
    expect((await signIn('legacy', 'from-the-django-days')).status).toBe(200);
    expect((await signIn('legacy', 'not it')).status).toBe(401);
  });
});

describe('tokens', () => {
  it('issues ES256 tokens that verify against the published JWKS, as the gateway does', async () => {
    const jwks = await fetch(`${service.url}/api/auth/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300');
    const document = (await jwks.json()) as { keys: { kid: string }[] };
    expect(document).toEqual({
      keys: [
        {
          kty: 'EC',
          crv: 'P-256',
          x: expect.any(String),
          y: expect.any(String),
          kid: expect.any(String),
          alg: 'ES256',
          use: 'sig',
        },
      ],
    });

    const { token, user } = await signUp('carol');
    expect(headerOf(token.access)).toMatchObject({ alg: 'ES256', kid: document.keys[0]?.kid });
    const access = claimsOf(token.access);
    const refresh = claimsOf(token.refresh);
    expect((access.exp as number) - (access.iat as number)).toBe(600);
    expect((refresh.exp as number) - (refresh.iat as number)).toBe(7200);

    const verifier = createTokenVerifier(remoteKeySource(`${service.url}/api/auth/jwks.json`));
    expect(await verifier.verifyAccess(token.access)).toEqual({
      id: user.id,
      username: 'carol',
      isStaff: false,
      isSuperuser: false,
    });
  });

  it('answers /api/me/ for an access token, with or without Bearer, or the cookie; never for a refresh token', async () => {
    const { token, user } = await signUp('dave');
    const me = await service.call('GET', '/api/me/', { token: token.access });
    expect(me.status).toBe(200);
    expect(me.body.result).toEqual({ user });
    const bare = await service.call('GET', '/api/me/', { headers: { authorization: token.access } });
    expect(bare.status).toBe(200);
    const cookie = await service.call('GET', '/api/me/', { headers: { cookie: `access=${token.access}` } });
    expect(cookie.status).toBe(200);

    const withRefresh = await service.call('GET', '/api/me/', { token: token.refresh });
    expect(withRefresh.status).toBe(401);
    expect(withRefresh.body.message).toBe('Token has wrong type');
    expect((await service.call('GET', '/api/me/')).status).toBe(401);
    expect((await service.call('GET', '/api/me/', { token: 'garbage' })).status).toBe(401);
  });

  it('rotates refresh tokens; a used one presented again revokes the whole family', async () => {
    const { token: first } = await signUp('erin');
    const rotated = await service.call('POST', '/api/token/refresh/', { body: { refresh: first.refresh } });
    expect(rotated.status).toBe(200);
    const second = rotated.body.result;
    expect(Object.keys(second).sort()).toEqual(['access', 'refresh']);
    expect(second.refresh).not.toBe(first.refresh);
    expect((await service.call('GET', '/api/me/', { token: second.access })).status).toBe(200);

    // A thief replays the first token: refused, and the legitimate successor dies with it.
    const replay = await service.call('POST', '/api/token/refresh/', { body: { refresh: first.refresh } });
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ status: 0, error_code: 3, message: 'Token is blacklisted' });
    const successor = await service.call('POST', '/api/token/refresh/', { body: { refresh: second.refresh } });
    expect(successor.status).toBe(401);

    // Another sign-in is another family, untouched.
    const again = await signIn('erin', 'pw-erin-secret');
    const third = await service.call('POST', '/api/token/refresh/', {
      body: { refresh: again.body.result.token.refresh },
    });
    expect(third.status).toBe(200);
  });

  it('refreshes from the cookie too, and refuses access, forged, unknown and missing tokens', async () => {
    const { token } = await signUp('frank');
    const viaCookie = await service.call('POST', '/api/token/refresh/', {
      headers: { cookie: `refresh=${token.refresh}` },
    });
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual(['access', 'refresh']);

    expect((await service.call('POST', '/api/token/refresh/', { body: { refresh: token.access } })).status).toBe(401);
    expect((await service.call('POST', '/api/token/refresh/', { body: { refresh: 'a.b.c' } })).status).toBe(401);
    const [header, payload, signature] = viaCookie.body.result.refresh.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(viaCookie.body.result.refresh), user_id: 1 })).toString(
      'base64url',
    );
    expect(payload).toBeTruthy();
    expect(
      (await service.call('POST', '/api/token/refresh/', { body: { refresh: `${header}.${forged}.${signature}` } }))
        .status,
    ).toBe(401);
    const missing = await service.call('POST', '/api/token/refresh/', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toEqual({ refresh: ['This field is required.'] });
  });

  it("signs out: the refresh token is revoked, the cookies cleared; another user's token is refused", async () => {
    const { token } = await signUp('grace');
    const { token: other } = await signUp('heidi');

    const unauthenticated = await service.call('POST', '/api/sign-out/', { body: { refresh: token.refresh } });
    expect(unauthenticated.status).toBe(401);
    const foreign = await service.call('POST', '/api/sign-out/', {
      token: token.access,
      body: { refresh: other.refresh },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toEqual({ refresh: ['Given token not valid for any token type'] });
    expect((await service.call('POST', '/api/token/refresh/', { body: { refresh: other.refresh } })).status).toBe(200);

    const out = await service.call('POST', '/api/sign-out/', { token: token.access, body: { refresh: token.refresh } });
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ status: 1, result: {} });
    const cleared = out.headers.getSetCookie();
    expect(cleared.map((c) => c.split('=')[0])).toEqual(['access', 'refresh']);
    expect(cleared.every((c) => c.includes('Expires=Thu, 01 Jan 1970'))).toBe(true);

    const refused = await service.call('POST', '/api/token/refresh/', { body: { refresh: token.refresh } });
    expect(refused.status).toBe(401);
    expect(refused.body.message).toBe('Token is blacklisted');

    // The log-out alias, with the refresh token from the cookie. Signing out outdates the session's
    // access token at once, so a second sign-out with it is a 401.
    const again = await signIn('grace', 'pw-grace-secret');
    const pair = again.body.result.token;
    const logOut = await service.call('POST', '/api/log-out/', {
      token: pair.access,
      headers: { cookie: `refresh=${pair.refresh}` },
    });
    expect(logOut.status).toBe(200);
    const twice = await service.call('POST', '/api/log-out/', {
      token: pair.access,
      headers: { cookie: `refresh=${pair.refresh}` },
    });
    expect(twice.status).toBe(401);
    expect(twice.body).toMatchObject({ error_code: 3, message: 'Token is blacklisted' });
    expect((await service.call('POST', '/api/token/refresh/', { body: { refresh: pair.refresh } })).status).toBe(401);
  });
});

describe('the service', () => {
  it('seeds the superuser admin with the configured password', async () => {
    const response = await signIn('admin', '1qaz2wsx');
    expect(response.status).toBe(200);
    expect(response.body.result.user).toMatchObject({
      username: 'admin',
      email: 'admin@localhost',
      is_superuser: true,
      is_staff: true,
    });
    expect(claimsOf(response.body.result.token.access)).toMatchObject({ is_superuser: true, is_staff: true });
  });

  it('publishes auth.user.registered through the outbox, with the request id', async () => {
    const logger = createLogger('auth-test-bus', 'silent');
    const bus = await connectBus({
      url: 'nats://127.0.0.1:4222',
      prefix: settings.BUS_PREFIX as string,
      name: 'auth-test',
      logger,
    });
    const received: EventEnvelope[] = [];
    const consumer = startConsumer(bus, {
      durable: 'auth-test-registered',
      types: ['auth.user.registered'],
      handle: async (event) => {
        received.push(event);
      },
    });
    try {
      const response = await service.call('POST', '/api/sign-up/', {
        body: newUser('ivan'),
        headers: { 'x-request-id': 'sign-up-ivan-1' },
      });
      expect(response.status).toBe(201);
      const event = await waitFor(() => received.find((e) => (e.data as { username: string }).username === 'ivan'));
      expect(event).toMatchObject({
        type: 'auth.user.registered',
        request_id: 'sign-up-ivan-1',
        data: {
          user_id: response.body.result.user.id,
          username: 'ivan',
          email: 'ivan@example.com',
          is_superuser: false,
        },
      });
      // The seeded admin was announced too.
      await waitFor(() => received.find((e) => (e.data as { username: string }).username === 'admin'));
      // A refused sign-up announces nothing.
      await service.call('POST', '/api/sign-up/', { body: newUser('ivan') });
      const [{ n }] = (await query<{ n: number }>(
        settings.DATABASE_URL as string,
        "select count(*)::int as n from auth.outbox_message where payload->'data'->>'username' = 'ivan'",
      )) as [{ n: number }];
      expect(n).toBe(1);
    } finally {
      await consumer.stop();
      await bus.close();
    }
  });

  it('reports readiness, serves its OpenAPI part, and answers 405 and 404 in the envelope', async () => {
    const ready = await service.call('GET', '/readyz');
    expect(ready.body).toEqual({ status: 1, result: { database: 'ok', redis: 'ok', nats: 'ok' } });
    const openapi = await service.call('GET', '/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    const validation = await new Validator().validate(openapi.body);
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(Object.keys(openapi.body.paths).sort()).toEqual([
      '/api/auth/jwks.json',
      '/api/log-in/',
      '/api/log-out/',
      '/api/me/',
      '/api/me/password/',
      '/api/sign-in/',
      '/api/sign-out/',
      '/api/sign-up/',
      '/api/token/refresh/',
      '/api/users/{id}/deactivate/',
    ]);
    const wrongMethod = await service.call('GET', '/api/sign-in');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, OPTIONS');
    expect((await service.call('GET', '/api/nothing/')).body).toMatchObject({ status: 0, error_code: 5 });
  });
});

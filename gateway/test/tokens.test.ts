import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  accessClaims,
  hs256WithPublicKey,
  makeSigningKey,
  type StandIn,
  signToken,
  startTestGateway,
  startUpstreams,
  type TestGateway,
  uniquePrefix,
  unsignedToken,
  upstreamEnv,
} from './support';

let auth: StandIn;
let machines: StandIn;
let operations: StandIn;
let gw: TestGateway;
const key = makeSigningKey('key-1');
const standIns = () => [auth, machines, operations];

beforeAll(async () => {
  ({ auth, machines, operations } = await startUpstreams());
  auth.jwks = [key.jwk];
  gw = await startTestGateway({
    ...upstreamEnv(auth, machines, operations),
    REDIS_PREFIX: uniquePrefix('tokens'),
    // An unknown kid may refetch the JWKS at once, so the rotation test need not wait 5 s.
    JWKS_MIN_REFRESH_MS: '0',
  });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all(standIns().map((s) => s?.close()));
});

beforeEach(() => {
  for (const s of standIns()) s.seen.length = 0;
});

const get = (path: string, authorization?: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, {
    headers: { ...(authorization !== undefined && { Authorization: authorization }), ...headers },
  });

describe('protected routes', () => {
  it('a valid access token is proxied, with the request id', async () => {
    const response = await get('/api/machines/5/', `Bearer ${signToken(key, accessClaims())}`, {
      'X-Request-Id': 'tok-1',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('tok-1');
    expect(machines.seen).toHaveLength(1);
    expect(machines.seen[0]?.headers['x-request-id']).toBe('tok-1');
  });

  const other = makeSigningKey('key-1'); // same kid, different key: a forged signature
  const stranger = makeSigningKey('no-such-kid');
  const rejected: [string, () => string | undefined, string][] = [
    ['missing', () => undefined, 'Authentication credentials were not provided.'],
    ['empty', () => '', 'Authentication credentials were not provided.'],
    ['garbage', () => 'Bearer not-a-token', 'Given token not valid for any token type'],
    [
      'an unknown scheme',
      () => `Basic ${signToken(key, accessClaims())}`,
      'Authentication credentials were not provided.',
    ],
    [
      'expired',
      () => `Bearer ${signToken(key, accessClaims({ exp: Math.floor(Date.now() / 1000) - 10 }))}`,
      'Token is invalid or expired',
    ],
    [
      'a forged signature',
      () => `Bearer ${signToken(other, accessClaims())}`,
      'Given token not valid for any token type',
    ],
    [
      'a tampered payload',
      () => {
        const [h, , s] = signToken(key, accessClaims()).split('.');
        const payload = Buffer.from(JSON.stringify(accessClaims({ is_superuser: true }))).toString('base64url');
        return `Bearer ${h}.${payload}.${s}`;
      },
      'Given token not valid for any token type',
    ],
    ['alg none', () => `Bearer ${unsignedToken(accessClaims(), key.kid)}`, 'Given token not valid for any token type'],
    [
      'HS256 signed with the public key PEM',
      () => `Bearer ${hs256WithPublicKey(key, accessClaims())}`,
      'Given token not valid for any token type',
    ],
    [
      'an unknown kid',
      () => `Bearer ${signToken(stranger, accessClaims())}`,
      'Given token not valid for any token type',
    ],
    [
      'no kid',
      () => `Bearer ${signToken(key, accessClaims(), { kid: undefined })}`,
      'Given token not valid for any token type',
    ],
    [
      'a refresh token',
      () => `Bearer ${signToken(key, accessClaims({ token_type: 'refresh' }))}`,
      'Token has wrong type',
    ],
  ];

  for (const [name, make, message] of rejected) {
    it(`${name} → 401, and no service saw the request`, async () => {
      for (const path of ['/api/machines/5/', '/api/me/', '/api/machines/5/operation/']) {
        const response = await fetch(`${gw.url}${path}`, {
          method: 'POST',
          headers: {
            ...(make() !== undefined && { Authorization: make() as string }),
            'Content-Type': 'application/json',
          },
          body: '{"command":"START"}',
        });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect(await response.json()).toEqual({ status: 0, message, error_code: 3 });
      }
      for (const s of standIns()) expect(s.seen).toHaveLength(0);
    });
  }

  it('a bad token in the cookie is refused the same way', async () => {
    const response = await get('/api/me/', undefined, { Cookie: `access=${unsignedToken(accessClaims(), key.kid)}` });
    expect(response.status).toBe(401);
    expect(auth.seen).toHaveLength(0);
  });

  it('answers 401 in Korean when asked', async () => {
    const response = await get('/api/me/', undefined, { 'Accept-Language': 'ko' });
    expect(((await response.json()) as { message: string }).message).toBe(
      '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.',
    );
  });
});

describe('public routes', () => {
  it('need no token, and a bad one is passed on for the service to judge', async () => {
    expect((await fetch(`${gw.url}/api/sign-in/`, { method: 'POST' })).status).toBe(200);
    expect((await get('/api/auth/jwks.json', 'Bearer garbage')).status).toBe(200);
    expect(auth.seen).toHaveLength(2);
  });
});

describe('key rotation', () => {
  it('a token with a newly published kid works without restarting the gateway', async () => {
    const next = makeSigningKey('key-2');
    const early = await get('/api/me/', `Bearer ${signToken(next, accessClaims())}`);
    expect(early.status).toBe(401);

    auth.jwks = [key.jwk, next.jwk];
    const rotated = await get('/api/me/', `Bearer ${signToken(next, accessClaims())}`);
    expect(rotated.status).toBe(200);
    // The old key still verifies while it is published.
    expect((await get('/api/me/', `Bearer ${signToken(key, accessClaims())}`)).status).toBe(200);
    expect(auth.seen).toHaveLength(2);
  });
});

import { ErrorCode } from '@imm/errors';
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier, type KeySource } from '../src/index';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function accessToken(lifetimeSeconds: number, kid = 'k1'): string {
  return jwt.sign(
    { token_type: 'access', jti: 'j', user_id: 7, username: 'kim', is_staff: false, is_superuser: true },
    privateKey,
    { algorithm: 'ES256', keyid: kid, expiresIn: lifetimeSeconds },
  );
}

/** A key source whose keys the test can withdraw, counting look-ups. */
function keySource() {
  const keys = new Map([['k1', publicKey]]);
  return { keys, source: { getKey: async (kid: string) => keys.get(kid) } satisfies KeySource };
}

describe('createTokenVerifier', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('verifies a token once and answers its repeats from what it verified', async () => {
    const { source } = keySource();
    const verifier = createTokenVerifier(source);
    const token = accessToken(60);
    const spy = vi.spyOn(jwt, 'verify');
    const first = await verifier.verifyAccess(token);
    const second = await verifier.verifyAccess(token);
    expect(first).toEqual({ id: 7, username: 'kim', isStaff: false, isSuperuser: true });
    expect(second).toEqual(first);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  it('still refuses a remembered token once it has expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = createTokenVerifier(keySource().source);
    const token = accessToken(60);
    await verifier.verifyAccess(token);
    vi.setSystemTime(Date.now() + 61_000);
    await expect(verifier.verifyAccess(token)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
      detail: { key: 'token_expired' },
    });
  });

  it('refuses a remembered token whose key was withdrawn', async () => {
    const { keys, source } = keySource();
    const verifier = createTokenVerifier(source);
    const token = accessToken(60);
    await verifier.verifyAccess(token);
    keys.delete('k1');
    await expect(verifier.verifyAccess(token)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
      detail: { key: 'token_invalid' },
    });
  });

  it('remembers no refused token', async () => {
    const verifier = createTokenVerifier(keySource().source);
    const forged = `${accessToken(60).slice(0, -4)}AAAA`;
    await expect(verifier.verifyAccess(forged)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
    await expect(verifier.verifyAccess(forged)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });
});

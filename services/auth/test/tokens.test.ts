import { ErrorCode } from '@imm/errors';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint, signingKeysOf } from '../src/adapters/signing-keys';
import { createTokenService } from '../src/adapters/jwt-tokens';
import { claimsOf, headerOf } from './service';

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const user = { id: 7, username: 'operator', isStaff: false, isSuperuser: true };

describe('tokens', () => {
  const { privateKey } = newKey();
  const keys = signingKeysOf(privateKey);
  const tokens = createTokenService(keys, { accessSeconds: 1800, refreshSeconds: 86400 });

  it('issues access tokens with the Django claims plus name and roles, ES256 with the key thumbprint as kid', async () => {
    const access = tokens.issueAccess(user);
    expect(headerOf(access)).toEqual({ alg: 'ES256', typ: 'JWT', kid: keys.kid });
    const claims = claimsOf(access);
    expect(claims).toEqual({
      token_type: 'access',
      exp: expect.any(Number),
      iat: expect.any(Number),
      jti: expect.stringMatching(/^[0-9a-f]{32}$/),
      user_id: 7,
      username: 'operator',
      is_staff: false,
      is_superuser: true,
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(1800);
    expect(await tokens.verifier.verifyAccess(access)).toEqual({
      id: 7,
      username: 'operator',
      isStaff: false,
      isSuperuser: true,
    });
  });

  it('issues refresh tokens with only the Django claims, refused as access tokens', async () => {
    const refresh = tokens.issueRefresh(7);
    const claims = claimsOf(refresh.token);
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'jti', 'token_type', 'user_id']);
    expect(claims.token_type).toBe('refresh');
    expect((claims.exp as number) - (claims.iat as number)).toBe(86400);
    expect(refresh.expiresAt.getTime()).toBe((claims.exp as number) * 1000);
    expect(tokens.readRefresh(refresh.token).jti).toBe(refresh.jti);
    await expect(tokens.verifier.verifyAccess(refresh.token)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
    });
    expect(() => tokens.readRefresh(tokens.issueAccess(user))).toThrow(
      expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }),
    );
  });

  it('refuses tokens of other keys, and verifies those of previous keys during a rotation', async () => {
    const previous = newKey();
    const old = createTokenService(signingKeysOf(previous.privateKey), { accessSeconds: 60, refreshSeconds: 60 });
    const oldRefresh = old.issueRefresh(7).token;
    const oldAccess = old.issueAccess(user);
    expect(() => tokens.readRefresh(oldRefresh)).toThrow(expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }));
    await expect(tokens.verifier.verifyAccess(oldAccess)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });

    const rotatedKeys = signingKeysOf(privateKey, [previous.publicKey]);
    expect(rotatedKeys.kid).toBe(keys.kid);
    expect(rotatedKeys.publicJwks.map((jwk) => jwk.kid)).toEqual([
      keys.kid,
      jwkThumbprint(previous.publicKey.export({ format: 'jwk' })),
    ]);
    const rotated = createTokenService(rotatedKeys, { accessSeconds: 60, refreshSeconds: 60 });
    expect(rotated.readRefresh(oldRefresh).user_id).toBe(7);
    expect((await rotated.verifier.verifyAccess(oldAccess)).id).toBe(7);
  });

  it('names keys by their RFC 7638 thumbprint', () => {
    const jwk = privateKey.export({ format: 'jwk' });
    // The required members in lexicographic order, no whitespace, as the RFC spells it out.
    const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
    expect(keys.kid).toBe(createHash('sha256').update(canonical).digest('base64url'));
  });

  it('refuses a tampered or unsigned token', () => {
    const refresh = tokens.issueRefresh(7).token;
    const [header, payload] = refresh.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(refresh), user_id: 1 })).toString('base64url');
    expect(() => tokens.readRefresh(`${header}.${forged}.${refresh.split('.')[2]}`)).toThrow(
      expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }),
    );
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: keys.kid })).toString('base64url');
    expect(() => tokens.readRefresh(`${none}.${payload}.`)).toThrow(
      expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }),
    );
  });
});

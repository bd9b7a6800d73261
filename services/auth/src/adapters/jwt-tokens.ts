import { createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import {
  type AccessClaims,
  createTokenVerifier,
  type NotBeforeStore,
  staticKeySource,
  TOKEN_ALGORITHM,
  type TokenClaims,
  type TokenVerifier,
} from '@imm/auth';
import { UnauthenticatedError } from '@imm/errors';
import jwt from 'jsonwebtoken';
import type { RefreshClaims, TokenIssuer } from '../domain/tokens';
import type { SigningKeys } from './signing-keys';

export interface TokenLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
}

/** ES256 JWTs: issued and read here, access tokens verified as every other service does. */
export interface TokenService extends TokenIssuer {
  /** Access-token verification, the same code every other service runs (@imm/auth). */
  verifier: TokenVerifier;
}

/** simplejwt's jti: a uuid4 as 32 hex digits. */
const newJti = () => randomUUID().replaceAll('-', '');
const now = () => Math.floor(Date.now() / 1000);

export function createTokenService(
  keys: SigningKeys,
  lifetimes: TokenLifetimes,
  options: { notBefore?: NotBeforeStore } = {},
): TokenService {
  const publicKeys = new Map<string, KeyObject>(
    keys.publicJwks.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]),
  );
  const sign = (claims: TokenClaims) =>
    jwt.sign(claims, keys.privateKey, { algorithm: TOKEN_ALGORITHM, keyid: keys.kid });

  return {
    issueAccess(user, sessionId) {
      const iat = now();
      const claims: AccessClaims = {
        token_type: 'access',
        exp: iat + lifetimes.accessSeconds,
        iat,
        jti: newJti(),
        user_id: user.id,
        username: user.username,
        is_staff: user.isStaff,
        is_superuser: user.isSuperuser,
        ...(sessionId === undefined ? {} : { sid: sessionId }),
      };
      return sign(claims);
    },

    issueRefresh(userId) {
      const iat = now();
      const claims: RefreshClaims = {
        token_type: 'refresh',
        exp: iat + lifetimes.refreshSeconds,
        iat,
        jti: newJti(),
        user_id: userId,
      };
      return { token: sign(claims), jti: claims.jti, expiresAt: new Date(claims.exp * 1000) };
    },

    readRefresh(token, options = {}) {
      const decoded = jwt.decode(token, { complete: true });
      if (!decoded || typeof decoded.payload === 'string') throw new UnauthenticatedError('token_invalid');
      const key = typeof decoded.header.kid === 'string' ? publicKeys.get(decoded.header.kid) : undefined;
      if (decoded.header.alg !== TOKEN_ALGORITHM || !key) throw new UnauthenticatedError('token_invalid');
      let claims: Partial<RefreshClaims>;
      try {
        claims = jwt.verify(token, key, {
          algorithms: [TOKEN_ALGORITHM],
          ignoreExpiration: options.allowExpired === true,
        }) as Partial<RefreshClaims>;
      } catch (error) {
        throw new UnauthenticatedError(error instanceof jwt.TokenExpiredError ? 'token_expired' : 'token_invalid');
      }
      if (claims.token_type !== 'refresh') throw new UnauthenticatedError('token_not_access');
      if (typeof claims.jti !== 'string' || !Number.isSafeInteger(claims.user_id)) {
        throw new UnauthenticatedError('token_invalid');
      }
      return claims as RefreshClaims;
    },

    verifier: createTokenVerifier(staticKeySource(keys.publicJwks), { notBefore: options.notBefore }),
  };
}

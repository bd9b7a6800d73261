import type { RequestHandler, Request } from 'express';
import jwt from 'jsonwebtoken';
import { parse as parseCookies } from 'cookie';
import { ServiceUnavailableError, UnauthenticatedError } from '@imm/errors';
import { registerMessages } from '@imm/web/messages';
import { type AccessClaims, type Principal, TOKEN_ALGORITHM } from './claims';
import type { KeySource } from './jwks';
import { tokenMessages } from './messages';
import type { NotBeforeStore } from './not-before';
import { verifiedTokens } from './verified-tokens';

/**
 * The token of a request: `Authorization: Bearer <token>`, or the bare token (the Django service
 * accepted that), or else the `access` cookie that sign-in sets.
 */
export function tokenFromRequest(req: Request): string | undefined {
  const header = req.get('authorization')?.trim();
  if (header) {
    const [first, second] = header.split(/\s+/);
    if (second !== undefined) return /^(bearer|jwt)$/i.test(first ?? '') ? second : undefined;
    return first;
  }
  const cookie = req.get('cookie');
  return cookie ? parseCookies(cookie).access : undefined;
}

export interface VerifiedToken {
  claims: AccessClaims;
  principal: Principal;
}

export interface TokenVerifier {
  /** Resolves to the caller, or throws a 401 UnauthenticatedError (outdated tokens included). */
  verifyAccess(token: string): Promise<Principal>;
  /**
   * Signature, algorithm, expiry and type only: for the gateway, which reads the not-before marks
   * in the same Redis round trip as its rate limit and then checks them itself.
   */
  verifySignature(token: string): Promise<VerifiedToken>;
}

export interface TokenVerifierOptions {
  /** Where sign-out, password changes and deactivations outdate tokens; without it none are. */
  notBefore?: NotBeforeStore;
}

/** Seconds since the epoch, as jsonwebtoken compares `exp`. */
const nowSeconds = () => Math.floor(Date.now() / 1000);

export function createTokenVerifier(keys: KeySource, options: TokenVerifierOptions = {}): TokenVerifier {
  // Its refusals are answered in the envelope of whichever process verifies.
  registerMessages(tokenMessages);
  const verified = verifiedTokens();

  async function keyOf(kid: string): ReturnType<KeySource['getKey']> {
    try {
      return await keys.getKey(kid);
    } catch {
      throw new ServiceUnavailableError('down');
    }
  }

  async function verifySignature(token: string): Promise<VerifiedToken> {
    const known = verified.get(token);
    if (known) {
      if (nowSeconds() >= known.exp) {
        verified.forget(token);
        throw new UnauthenticatedError('token_expired');
      }
      // A key withdrawn from the key set takes its tokens with it, cached or not.
      if (!(await keyOf(known.kid))) throw new UnauthenticatedError('token_invalid');
      return { claims: known.claims, principal: known.principal };
    }
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw new UnauthenticatedError('token_invalid');
    // The algorithm is pinned: `none`, HS256 made with the public key, or any other is refused.
    if (decoded.header.alg !== TOKEN_ALGORITHM || typeof decoded.header.kid !== 'string') {
      throw new UnauthenticatedError('token_invalid');
    }
    const key = await keyOf(decoded.header.kid);
    if (!key) throw new UnauthenticatedError('token_invalid');
    let claims: AccessClaims;
    try {
      claims = jwt.verify(token, key, { algorithms: [TOKEN_ALGORITHM] }) as AccessClaims;
    } catch (error) {
      throw new UnauthenticatedError(error instanceof jwt.TokenExpiredError ? 'token_expired' : 'token_invalid');
    }
    if (claims.token_type !== 'access') throw new UnauthenticatedError('token_not_access');
    if (!Number.isSafeInteger(claims.user_id) || typeof claims.iat !== 'number') {
      throw new UnauthenticatedError('token_invalid');
    }
    if (claims.sid !== undefined && typeof claims.sid !== 'string') throw new UnauthenticatedError('token_invalid');
    const principal: Principal = {
      id: claims.user_id,
      username: String(claims.username ?? ''),
      isStaff: claims.is_staff === true,
      isSuperuser: claims.is_superuser === true,
    };
    verified.remember(token, { claims, principal, exp: claims.exp, kid: decoded.header.kid });
    return { claims, principal };
  }

  return {
    verifySignature,
    async verifyAccess(token) {
      const { claims, principal } = await verifySignature(token);
      // The marks are read on every request (never remembered): a sign-out applies at once.
      // Unknown (Redis unreachable or slow) is accepted: the documented fallback.
      if (options.notBefore && (await options.notBefore.outdated(claims)) === true) {
        throw new UnauthenticatedError('token_revoked');
      }
      return principal;
    },
  };
}

/** Express middleware: a valid access token or a 401. Sets `req.user`. */
export function requireUser(verifier: TokenVerifier): RequestHandler {
  return async (req, _res, next) => {
    const token = tokenFromRequest(req);
    if (!token) throw new UnauthenticatedError();
    req.user = await verifier.verifyAccess(token);
    next();
  };
}

/** The caller of a route behind `requireUser`. */
export function callerOf(req: Request): Principal {
  if (!req.user) throw new UnauthenticatedError();
  return req.user;
}

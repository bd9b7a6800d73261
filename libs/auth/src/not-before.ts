import type { AccessClaims } from './claims';

/**
 * "Not before" marks that outdate access tokens before they expire, kept in Redis by the auth
 * service and read by every verifier. Each holds a time in seconds: a token issued at or before
 * it is refused. One per user (password change, deactivation) and one per session, the family of
 * tokens of one sign-in (sign-out, a reused refresh token). Each mark expires with the longest an
 * access token lives, after which no token it could outdate is valid anyway.
 */
export const notBeforeUserKey = (prefix: string, userId: number) => `${prefix}:nbf:user:${userId}`;
export const notBeforeSessionKey = (prefix: string, sessionId: string) => `${prefix}:nbf:session:${sessionId}`;

/** The marks that may outdate a token: its user's, and its session's when it names one. */
export function notBeforeKeysOf(prefix: string, claims: Pick<AccessClaims, 'user_id' | 'sid'>): string[] {
  const keys = [notBeforeUserKey(prefix, claims.user_id)];
  if (claims.sid) keys.push(notBeforeSessionKey(prefix, claims.sid));
  return keys;
}

/** The marks' values as MGET returns them. */
export function isOutdated(claims: Pick<AccessClaims, 'iat'>, marks: readonly (string | null)[]): boolean {
  for (const mark of marks) {
    if (mark !== null && claims.iat <= Number(mark)) return true;
  }
  return false;
}

/** What a verifier asks: is this token outdated? `undefined` when the answer is unknown (Redis down). */
export interface NotBeforeStore {
  outdated(claims: AccessClaims): Promise<boolean | undefined>;
}

/** The one Redis call a service makes per request, as ioredis offers it. */
export interface NotBeforeRedis {
  mget(...keys: string[]): Promise<(string | null)[]>;
}

export interface RedisNotBeforeOptions {
  prefix: string;
  /** Longer than this and the answer is "unknown" (the token is accepted; see docs/security.md). */
  timeoutMs: number;
  /** Told once per outage that marks could not be read. */
  onUnavailable?: (error: unknown) => void;
}

/** Reads the marks with one MGET that never waits longer than `timeoutMs`. */
export function redisNotBefore(redis: NotBeforeRedis, options: RedisNotBeforeOptions): NotBeforeStore {
  let failing = false;
  return {
    async outdated(claims) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const marks = await Promise.race([
          redis.mget(...notBeforeKeysOf(options.prefix, claims)),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error('redis did not answer in time')), options.timeoutMs);
          }),
        ]);
        failing = false;
        return isOutdated(claims, marks);
      } catch (error) {
        if (!failing) options.onUnavailable?.(error);
        failing = true;
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

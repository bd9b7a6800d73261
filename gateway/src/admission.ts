import type { Request, RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import {
  isOutdated,
  notBeforeKeysOf,
  type Principal,
  tokenFromRequest,
  type TokenVerifier,
  type VerifiedToken,
} from '@imm/auth';
import type { Logger } from '@imm/logging';
import { ThrottledError, UnauthenticatedError } from '@imm/errors';

export interface AdmissionOptions {
  redis: Redis;
  /** `REDIS_PREFIX`: two deployments sharing a Redis count separately; also the not-before marks' prefix. */
  prefix: string;
  verifier: TokenVerifier;
  /** Requests per minute of one signed-in user (the token's subject), from anywhere. */
  perUserPerMinute: number;
  /** Requests per minute of one client address without a valid token. */
  perAddressPerMinute: number;
  /** The longest a request waits on Redis; then the documented fallbacks apply. */
  redisTimeoutMs: number;
  logger: Logger;
}

/** What admission learnt about the request's token, for the route table's protected routes. */
export interface Admitted {
  user?: Principal;
  /** Why there is no user: no token, or the 401 (or 503) its check gave. */
  refusal?: unknown;
}

const ADMITTED = Symbol('admitted');
type WithAdmission = Response & { [ADMITTED]?: Admitted };

export function admittedOf(res: Response): Admitted {
  return (res as WithAdmission)[ADMITTED] ?? {};
}

const DURATION = 60;

/** A Redis-counted limiter that falls back to this process's memory when Redis is down or slow. */
function limiter(options: AdmissionOptions, name: string, points: number): RateLimiterAbstract {
  const insuranceLimiter = new RateLimiterMemory({ keyPrefix: `gateway:${name}`, points, duration: DURATION });
  return new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${options.prefix}:gateway:${name}`,
      points,
      duration: DURATION,
      // Do not wait for a reconnecting Redis: fall back to the insurance limiter at once.
      rejectIfRedisNotReady: true,
      // A key over its limit is refused from memory for the rest of its window: no round trip.
      inMemoryBlockOnConsumed: points,
    }),
    // The insurance is the wrapper's alone, so a slow Redis that then fails counts once, not twice.
    insuranceLimiter,
    timeoutMs: options.redisTimeoutMs,
  });
}

/** The marks' MGET, or undefined when Redis does not answer within the timeout. */
function readMarks(redis: Redis, keys: string[], timeoutMs: number): Promise<(string | null)[] | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    redis.mget(...keys).catch(() => undefined),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Every request but the health probes passes here first, in one Redis round trip: the token's
 * signature is checked in process, then the rate-limit count (per user for a valid token, per
 * address otherwise) and the token's not-before marks are sent together (ioredis auto-pipelining
 * writes both commands at once). Redis slower than the timeout: the count falls back to memory and
 * the marks count as absent (the token is accepted), so the gateway never hangs on Redis.
 */
export function admission(options: AdmissionOptions): RequestHandler {
  const byUser = limiter(options, 'user', options.perUserPerMinute);
  const byAddress = limiter(options, 'ip', options.perAddressPerMinute);
  let marksFailing = false;

  const throttled = (res: Response, points: number, rejection: RateLimiterRes) => {
    res.setHeader('X-RateLimit-Limit', String(points));
    return new ThrottledError(rejection.msBeforeNext / 1000);
  };

  return async (req: Request, res, next) => {
    const token = tokenFromRequest(req);
    let verified: VerifiedToken | undefined;
    let refusal: unknown;
    if (token) {
      try {
        verified = await options.verifier.verifySignature(token);
      } catch (error) {
        refusal = error;
      }
    }

    const points = verified ? options.perUserPerMinute : options.perAddressPerMinute;
    // Both commands are issued in this same tick, before either answer is awaited: one round trip.
    const counted = verified
      ? byUser.consume(String(verified.claims.user_id))
      : byAddress.consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    const marks = verified
      ? readMarks(options.redis, notBeforeKeysOf(options.prefix, verified.claims), options.redisTimeoutMs)
      : undefined;
    try {
      await counted;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw throttled(res, points, rejection);
      // Neither store answered: serving the request beats refusing everyone.
      options.logger.error({ err: rejection }, 'rate limiter failed; request let through');
    }

    const admitted: Admitted = { refusal };
    if (verified) {
      const values = await marks;
      if (values === undefined) {
        if (!marksFailing) options.logger.warn('not-before marks unreadable; tokens accepted until Redis answers');
        marksFailing = true;
        admitted.user = verified.principal;
      } else {
        marksFailing = false;
        if (isOutdated(verified.claims, values)) admitted.refusal = new UnauthenticatedError('token_revoked');
        else admitted.user = verified.principal;
      }
    }
    (res as WithAdmission)[ADMITTED] = admitted;
    next();
  };
}

/** For protected routes: the admitted user, or the reason there is none (401 by default). */
export const requireAdmittedUser: RequestHandler = (req, res, next) => {
  const admitted = admittedOf(res);
  if (!admitted.user) throw admitted.refusal ?? new UnauthenticatedError();
  req.user = admitted.user;
  next();
};

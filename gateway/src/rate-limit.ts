import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '@imm/logging';
import { ThrottledError } from '@imm/web';

export interface RateLimitOptions {
  redis: Redis;
  /** `REDIS_PREFIX`: two deployments sharing a Redis count separately. */
  prefix: string;
  perMinute: number;
  logger: Logger;
}

/**
 * Requests per client address per minute, counted in Redis so every gateway instance shares the
 * count. While Redis is unreachable each instance counts on its own in memory (the insurance
 * limiter) instead of letting everything through or refusing everything.
 */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const points = options.perMinute;
  const duration = 60;
  const limiter = new RateLimiterRedis({
    storeClient: options.redis,
    keyPrefix: `${options.prefix}:gateway`,
    points,
    duration,
    // Do not wait for a reconnecting Redis: fall back to the insurance limiter at once.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${options.prefix}:gateway`, points, duration }),
  });

  return async (req, res, next) => {
    try {
      await limiter.consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        res.setHeader('X-RateLimit-Limit', String(points));
        throw new ThrottledError(rejection.msBeforeNext / 1000);
      }
      // Neither store answered: serving the request beats refusing everyone.
      options.logger.error({ err: rejection }, 'rate limiter failed; request let through');
    }
    next();
  };
}

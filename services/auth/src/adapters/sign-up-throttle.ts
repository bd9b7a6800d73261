import { ThrottledError } from '@imm/errors';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { SignUpThrottle } from '../domain/throttles';

export interface SignUpThrottleOptions {
  redis: Redis;
  prefix: string;
  /** Sign-ups (attempts that reach password hashing) per client address within the window. */
  maxPerAddress: number;
  windowSeconds: number;
  redisTimeoutMs: number;
}

/**
 * Sign-ups per client address, counted in Redis (in memory while Redis is unreachable or slow):
 * each one costs a bcrypt hash, so an unthrottled client could keep the hashing threads busy.
 */
export function createSignUpThrottle(options: SignUpThrottleOptions): SignUpThrottle {
  const points = options.maxPerAddress;
  const duration = options.windowSeconds;
  const insuranceLimiter = new RateLimiterMemory({ keyPrefix: 'signup:ip', points, duration });
  const limiter = new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${options.prefix}:signup:ip`,
      points,
      duration,
      rejectIfRedisNotReady: true,
    }),
    // The insurance is the wrapper's alone, so a slow Redis that then fails counts once, not twice.
    insuranceLimiter,
    timeoutMs: options.redisTimeoutMs,
  });
  return {
    async attempt(address) {
      try {
        await limiter.consume(address);
      } catch (error) {
        if (error instanceof RateLimiterRes) throw new ThrottledError(error.msBeforeNext / 1000);
        throw error;
      }
    },
  };
}

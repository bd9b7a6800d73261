import { ThrottledError } from '@imm/web';
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface SignInThrottleOptions {
  redis: Redis;
  /** REDIS_PREFIX: keeps two deployments (or test runs) on one Redis apart. */
  prefix: string;
  maxFailuresPerUsername: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

export interface SignInThrottle {
  /** Throws a 429 when the username or the address has used up its failures. */
  check(username: string, address: string): Promise<void>;
  recordFailure(username: string, address: string): Promise<void>;
  /** After a successful sign-in: the username starts over; the address keeps its count. */
  recordSuccess(username: string): Promise<void>;
}

/**
 * Failed sign-ins counted in Redis, per username and per client address, over a fixed window.
 * While Redis is unreachable each process counts in memory instead (rate-limiter-flexible's
 * insurance limiter): sign-in keeps working and stays throttled, per process, rather than failing.
 */
export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle {
  const limiter = (name: string, points: number): RateLimiterAbstract =>
    new RateLimiterRedis({
      storeClient: options.redis,
      keyPrefix: `${options.prefix}:signin:${name}`,
      points,
      duration: options.windowSeconds,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `signin:${name}`, points, duration: options.windowSeconds }),
    });
  const byUsername = limiter('user', options.maxFailuresPerUsername);
  const byAddress = limiter('ip', options.maxFailuresPerAddress);
  // A username differing only in case is another key otherwise, and another five guesses.
  const userKey = (username: string) => username.toLowerCase();

  const consume = async (rateLimiter: RateLimiterAbstract, key: string) => {
    try {
      await rateLimiter.consume(key);
    } catch (error) {
      // Over the limit already: the next check answers 429; nothing else to do here.
      if (!(error instanceof RateLimiterRes)) throw error;
    }
  };

  return {
    async check(username, address) {
      const [user, ip] = await Promise.all([byUsername.get(userKey(username)), byAddress.get(address)]);
      const waits = [
        user && user.consumedPoints >= options.maxFailuresPerUsername ? user.msBeforeNext : 0,
        ip && ip.consumedPoints >= options.maxFailuresPerAddress ? ip.msBeforeNext : 0,
      ];
      const wait = Math.max(...waits);
      if (wait > 0) throw new ThrottledError(wait / 1000);
    },
    async recordFailure(username, address) {
      await Promise.all([consume(byUsername, userKey(username)), consume(byAddress, address)]);
    },
    async recordSuccess(username) {
      await byUsername.delete(userKey(username));
    },
  };
}

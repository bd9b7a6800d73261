import { createHash } from 'node:crypto';
import { ThrottledError } from '@imm/errors';
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from 'rate-limiter-flexible';
import type { SignInThrottle } from '../domain/throttles';

export interface SignInThrottleOptions {
  redis: Redis;
  /** REDIS_PREFIX: keeps two deployments (or test runs) on one Redis apart. */
  prefix: string;
  /** Failures of one username from one address before that pair gets 429. */
  maxFailuresPerPair: number;
  /** Failures from one address (any usernames) before that address gets 429. */
  maxFailuresPerAddress: number;
  /** Failures of one username (any addresses) before its attempts are slowed down. */
  usernameDelayAfter: number;
  /** The first slowed attempt waits this long; each further failure doubles it, up to the max. */
  usernameDelayBaseMs: number;
  usernameDelayMaxMs: number;
  windowSeconds: number;
  /** A Redis call that takes longer falls back to this process's memory. */
  redisTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Failed sign-ins counted in Redis over a fixed window, in three ways:
 * - per (username, address): a guesser is refused quickly, the same user elsewhere is not;
 * - per address: one client trying many usernames is refused (its cap is high, for a plant's NAT);
 * - per username across addresses: never refuses, only delays, so nobody can lock `admin` out.
 * Every attempt is counted before bcrypt runs and given back on success, so parallel requests
 * cannot all slip through one check. While Redis is unreachable or slow, each process counts in
 * memory (rate-limiter-flexible's insurance limiter) instead of failing or waiting.
 */
export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle {
  const duration = options.windowSeconds;
  const limiter = (name: string, points: number): RateLimiterAbstract => {
    const insuranceLimiter = new RateLimiterMemory({ keyPrefix: `signin:${name}`, points, duration });
    return new RLWrapperTimeouts({
      limiter: new RateLimiterRedis({
        storeClient: options.redis,
        keyPrefix: `${options.prefix}:signin:${name}`,
        points,
        duration,
        rejectIfRedisNotReady: true,
      }),
      // The insurance is the wrapper's alone, so a slow Redis that then fails counts once, not twice.
      insuranceLimiter,
      timeoutMs: options.redisTimeoutMs,
    });
  };
  const byPair = limiter('pair', options.maxFailuresPerPair);
  const byAddress = limiter('ip', options.maxFailuresPerAddress);
  // Counts only; never refuses (its points are never reached).
  const byUsername = limiter('user', Number.MAX_SAFE_INTEGER);

  /** Consumed points after this attempt, or the rejection's wait when over the limit. */
  const take = async (rateLimiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes> => {
    try {
      return await rateLimiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      throw error;
    }
  };
  const giveBack = async (rateLimiter: RateLimiterAbstract, key: string) => {
    await rateLimiter.reward(key, 1).catch(() => undefined);
  };

  const delayOf = (usernameFailures: number) => {
    const over = usernameFailures - options.usernameDelayAfter;
    if (over <= 0) return 0;
    return Math.min(options.usernameDelayMaxMs, options.usernameDelayBaseMs * 2 ** Math.min(over - 1, 30));
  };

  return {
    async attempt(rawUsername, address) {
      // A username differing only in case is the same account to guess; an overlong one (no account
      // has it) is counted by its digest, so a key never grows with what the client sends.
      const lower = rawUsername.toLowerCase();
      const username = lower.length <= 150 ? lower : `sha256:${createHash('sha256').update(lower).digest('hex')}`;
      const pairKey = `${username}|${address}`;
      const [pair, ip, user] = await Promise.all([
        take(byPair, pairKey),
        take(byAddress, address),
        take(byUsername, username),
      ]);
      const refusedFor = Math.max(
        pair.consumedPoints > options.maxFailuresPerPair ? pair.msBeforeNext : 0,
        ip.consumedPoints > options.maxFailuresPerAddress ? ip.msBeforeNext : 0,
      );
      if (refusedFor > 0) {
        // A refused attempt is no guess: it does not count (else a refused client never ages out).
        await Promise.all([giveBack(byPair, pairKey), giveBack(byAddress, address), giveBack(byUsername, username)]);
        throw new ThrottledError(refusedFor / 1000);
      }
      const delay = delayOf(user.consumedPoints);
      if (delay > 0) await sleep(delay);
      return {
        async succeeded() {
          // The pair starts over; the address and the username only get this attempt back.
          await Promise.all([
            byPair.delete(pairKey).catch(() => undefined),
            giveBack(byAddress, address),
            giveBack(byUsername, username),
          ]);
        },
      };
    },
  };
}

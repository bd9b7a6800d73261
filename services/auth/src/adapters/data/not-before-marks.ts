import { notBeforeSessionKey, notBeforeUserKey } from '@imm/auth';
import { ServiceUnavailableError } from '@imm/errors';
import type { Redis } from 'ioredis';
import type { NotBeforeMarks } from '../../domain/tokens';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The marks every verifier reads (@imm/auth `redisNotBefore`), kept as long as an access token lives. A mark that cannot be written is a 503: callers
 * write it before they change anything, so a retry finds nothing half done.
 */
export function redisNotBeforeMarks(redis: Redis, prefix: string, accessLifetimeSeconds: number): NotBeforeMarks {
  const mark = async (key: string) => {
    const second = Math.floor(Date.now() / 1000);
    try {
      await redis.set(key, String(second), 'EX', accessLifetimeSeconds);
    } catch {
      throw new ServiceUnavailableError('down');
    }
  };
  return {
    endSession: (sessionId) => mark(notBeforeSessionKey(prefix, sessionId)),
    async outdateUser(userId) {
      await mark(notBeforeUserKey(prefix, userId));
      await sleep(1000 - (Date.now() % 1000) + 1);
    },
  };
}

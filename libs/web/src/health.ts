import express from 'express';
import { send } from './envelope';
import { NotReadyError } from '@imm/errors';
import { route } from './routes';

export type ReadinessChecks = Record<string, () => Promise<unknown>>;

async function withTimeout(check: () => Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: the process answers. `/readyz`: each dependency answers within two seconds. Other
 * methods are a 405, as on every other path.
 */
export function healthRoutes(checks: ReadinessChecks): express.Router {
  const router = express.Router();
  route(router, '/healthz', { get: (_req, res) => send(res, { status: 'ok' }) });
  route(router, '/readyz', {
    get: async (_req, res) => {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((name) => withTimeout(checks[name] as () => Promise<unknown>, 2000)));
      const down = names.filter((_, i) => !results[i]);
      if (down.length > 0) {
        throw new NotReadyError(down);
      }
      send(res, Object.fromEntries(names.map((name) => [name, 'ok'])));
    },
  });
  return router;
}

/** Readiness of an ioredis connection: connected and answering, without queueing a PING behind an outage. */
export async function redisReady(redis: { status: string; ping(): Promise<unknown> }): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
  await redis.ping();
}

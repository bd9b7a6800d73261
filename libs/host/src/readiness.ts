import { type ReadinessChecks, redisReady } from '@imm/web';
import type { Redis } from 'ioredis';
import type { RedisKind } from './redis';

/** The database's and the bus's checks come with them: only a process that opens one loads its library. */
export interface OpenedDependencies {
  database?: () => Promise<void>;
  nats?: () => Promise<void>;
  redis: { name: string; kind: RedisKind; connection: Redis }[];
}

/**
 * `/readyz` checks for exactly what the process opened: `database`, `redis` (its `command`
 * connections; named `redis.<name>` when there are several) and `nats`.
 */
export function readinessOf(opened: OpenedDependencies): ReadinessChecks {
  const checks: ReadinessChecks = {};
  if (opened.database) checks.database = opened.database;
  const counted = opened.redis.filter((redis) => redis.kind === 'command');
  for (const { name, connection } of counted) {
    checks[counted.length === 1 ? 'redis' : `redis.${name}`] = () => redisReady(connection);
  }
  if (opened.nats) checks.nats = opened.nats;
  return checks;
}

import { busReady, type Bus } from '@imm/bus';
import { checkDatabase, type Database } from '@imm/db';
import { type ReadinessChecks, redisReady } from '@imm/web';
import type { Redis } from 'ioredis';
import type { RedisKind } from './redis';

export interface OpenedDependencies {
  orm?: Database;
  bus?: Bus;
  redis: { name: string; kind: RedisKind; connection: Redis }[];
}

/**
 * `/readyz` checks for exactly what the process opened: `database`, `redis` (its `command`
 * connections; named `redis.<name>` when there are several) and `nats`.
 */
export function readinessOf(opened: OpenedDependencies): ReadinessChecks {
  const checks: ReadinessChecks = {};
  const { orm, bus } = opened;
  if (orm) checks.database = () => checkDatabase(orm);
  const counted = opened.redis.filter((redis) => redis.kind === 'command');
  for (const { name, connection } of counted) {
    checks[counted.length === 1 ? 'redis' : `redis.${name}`] = () => redisReady(connection);
  }
  if (bus) checks.nats = () => busReady(bus);
  return checks;
}

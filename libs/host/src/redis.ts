import { once } from 'node:events';
import type { Logger } from '@imm/logging';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for:
 * - `command`: requests, throttles, queueing. Commands fail at once while Redis is away (no request
 *   waits for a reconnect), outages are logged, and it is a readiness dependency.
 * - `blocking`: a BullMQ worker's. Commands wait for the reconnect, as BullMQ needs; outages are
 *   logged; not a readiness check of its own (the process's `command` connection is).
 * - `optional`: fails fast like `command`, but its user falls back on its own and reports the
 *   outage itself, so it logs nothing and never makes the process unready.
 */
export type RedisKind = 'command' | 'blocking' | 'optional';

export interface RedisConnectionOptions {
  url: string;
  kind: RedisKind;
  /** A connected but stalled Redis (CLIENT PAUSE, a full disk) holds no command longer. Default 2000. */
  commandTimeoutMs?: number;
  /** Send what one request asks in one write (the gateway's rate count and not-before read). */
  autoPipelining?: boolean;
}

function optionsOf(options: RedisConnectionOptions): RedisOptions {
  if (options.kind === 'blocking') return { maxRetriesPerRequest: null };
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableAutoPipelining: options.autoPipelining ?? false,
  };
}

/**
 * The one way a process connects to Redis. Never waits and never fails: a Redis that is down at
 * start or later is reconnected to in the background, and logged once per outage (`name` says
 * which connection).
 */
export function connectRedis(name: string, options: RedisConnectionOptions, logger: Logger): Redis {
  const redis = new Redis(options.url, optionsOf(options));
  let down = false;
  redis.on('error', (error) => {
    // Without a listener an error would crash the process; a reconnect loop repeats the same one.
    if (!down && options.kind !== 'optional') logger.warn({ err: error, connection: name }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down && options.kind !== 'optional') logger.info({ connection: name }, 'redis reconnected');
    down = false;
  });
  return redis;
}

/** Closes politely when Redis answers, at once when it does not (a QUIT would wait for the reconnect). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
  redis.disconnect();
}

/** Gives Redis up to `ms` to connect (so the first requests already use it); never fails. */
export async function waitForRedis(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    // A connection error is no reason to wait longer, nor to fail: its users fall back.
    once(redis, 'ready').catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

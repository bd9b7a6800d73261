import { createServer } from 'node:net';
import { type Bus, recordEvent, startConsumer } from '@imm/bus';
import type { EventEnvelope } from '@imm/contracts';
import type { Database } from '@imm/db';
import type { Logger } from '@imm/logging';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import {
  dropStreams,
  dropTestDatabase,
  type NatsServerHandle,
  type RedisServerHandle,
  startNatsServer,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
  testInfrastructure,
  waitFor,
} from '@imm/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from '../src/index';
import { memoryLogger, messagingDatabase, readyz } from './support';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const infra = testInfrastructure('host');
/** HTTP with nothing but /healthz, /readyz and /metrics, on a free port. */
const healthOnly = (logger: Logger) => ({
  port: 0,
  app: ({ readiness }: { readiness: ReadinessChecks }) => createHttpApp({ logger, readiness, mount: () => {} }),
});

afterAll(async () => {
  await dropTestDatabase(infra.DATABASE_URL);
  await dropStreams(NATS_URL, infra.BUS_PREFIX);
});

describe('startService', () => {
  it('opens in order (database, bus, relay, Redis, context, entries, timers, HTTP) and closes in reverse', async () => {
    const { logger, parts } = memoryLogger();
    const stopped: string[] = [];
    const running = await startService({
      logger,
      database: messagingDatabase(infra.DATABASE_URL),
      bus: { url: NATS_URL, prefix: infra.BUS_PREFIX, name: 'host-test' },
      relay: {},
      redis: { main: { url: REDIS_URL, kind: 'command' }, jobs: { url: REDIS_URL, kind: 'blocking' } },
      context: ({ own }) => ({ cache: own({ close: () => void stopped.push('cache') }, undefined, 'cache') }),
      entries: {
        first: () => ({ stop: () => void stopped.push('first') }),
        skipped: false,
        second: () => ({ stop: () => void stopped.push('second') }),
      },
      timers: [{ name: 'tick', everyMs: 60_000, run: async () => {} }],
      http: healthOnly(logger),
    });
    const opened = [
      'database',
      'bus',
      'relay',
      'redis main',
      'redis jobs',
      'cache',
      'first',
      'second',
      'timer tick',
      'http',
    ];
    expect(parts('opened')).toEqual(opened);
    expect(parts('closed')).toEqual([]);

    const { orm, bus, redis } = running.context;
    await running.stop();
    expect(parts('closed')).toEqual([...opened].reverse());
    expect(stopped).toEqual(['second', 'first', 'cache']);
    // Really closed, not only logged as such.
    expect(bus.nc.isClosed()).toBe(true);
    expect(await orm.isConnected()).toBe(false);
    await waitFor(() => redis.main.status === 'end' && redis.jobs.status === 'end');
    await expect(fetch(`http://127.0.0.1:${running.port}/healthz`)).rejects.toThrow();
  });

  it('closes what it opened when opening fails half-way, and rethrows', async () => {
    const { logger, parts } = memoryLogger();
    let seen: { orm: Database; bus: Bus; redis: Redis } | undefined;
    const failing = startService({
      logger,
      database: messagingDatabase(infra.DATABASE_URL),
      bus: { url: NATS_URL, prefix: infra.BUS_PREFIX, name: 'host-test-failing' },
      redis: { main: { url: REDIS_URL, kind: 'command' } },
      context: ({ orm, bus, redis }) => {
        seen = { orm, bus, redis: redis.main };
        return {};
      },
      entries: {
        consumer: () => ({ stop: () => {} }),
        broken: () => {
          throw new Error('the responder could not start');
        },
      },
      http: healthOnly(logger),
    });
    await expect(failing).rejects.toThrow('the responder could not start');
    expect(parts('opened')).toEqual(['database', 'bus', 'redis main', 'consumer']);
    expect(parts('closed')).toEqual(['consumer', 'redis main', 'bus', 'database']);
    expect(seen?.bus.nc.isClosed()).toBe(true);
    expect(await seen?.orm.isConnected()).toBe(false);
    await waitFor(() => seen?.redis.status === 'end');
  });

  it('closes everything when the port is taken (HTTP is the last to open)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const { logger, parts } = memoryLogger();
    try {
      await expect(
        startService({
          logger,
          bus: { url: NATS_URL, prefix: infra.BUS_PREFIX, name: 'host-test-port' },
          redis: { main: { url: REDIS_URL, kind: 'command' } },
          http: { ...healthOnly(logger), port },
        }),
      ).rejects.toThrow(/EADDRINUSE/);
      expect(parts('closed')).toEqual(['redis main', 'bus']);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('wakes the relay through eventsCommitted: published long before its next poll', async () => {
    const { logger } = memoryLogger();
    const running = await startService({
      logger,
      database: messagingDatabase(infra.DATABASE_URL),
      bus: { url: NATS_URL, prefix: infra.BUS_PREFIX, name: 'host-test-relay' },
      relay: { intervalMs: 600_000 },
      http: healthOnly(logger),
    });
    const { orm, bus, eventsCommitted } = running.context;
    const seen: EventEnvelope[] = [];
    const consumer = startConsumer(bus, {
      durable: 'host-test-wake',
      types: ['machines.machine.deleted'],
      handle: async (event) => void seen.push(event),
    });
    try {
      // The relay's first pass (at start) has run by now; the next poll is ten minutes away.
      await waitFor(() => running.context.relay.stats().passes > 0);
      const event = await orm.em
        .fork()
        .transactional((em) => recordEvent(em, 'machines.machine.deleted', { machine_id: 7, owner_id: 1 }));
      eventsCommitted();
      await waitFor(() => seen.some((e) => e.id === event.id), { timeoutMs: 5000 });
    } finally {
      await consumer.stop();
      await running.stop();
    }
  });
});

describe('/readyz', () => {
  it('checks exactly what was opened', async () => {
    const { logger } = memoryLogger();
    const redisOnly = await startService({
      logger,
      redis: { main: { url: REDIS_URL, kind: 'command' } },
      http: healthOnly(logger),
    });
    const everything = await startService({
      logger,
      database: messagingDatabase(infra.DATABASE_URL),
      bus: { url: NATS_URL, prefix: infra.BUS_PREFIX, name: 'host-test-ready' },
      // Neither a blocking nor an optional connection is a readiness check of its own.
      redis: {
        main: { url: REDIS_URL, kind: 'command' },
        jobs: { url: REDIS_URL, kind: 'blocking' },
        marks: { url: REDIS_URL, kind: 'optional' },
      },
      http: healthOnly(logger),
    });
    const nothing = await startService({ logger, http: healthOnly(logger) });
    try {
      await waitFor(async () => (await readyz(redisOnly.port)).status === 200);
      expect((await readyz(redisOnly.port)).body).toEqual({ status: 1, result: { redis: 'ok' } });
      await waitFor(async () => (await readyz(everything.port)).status === 200);
      expect((await readyz(everything.port)).body).toEqual({
        status: 1,
        result: { database: 'ok', redis: 'ok', nats: 'ok' },
      });
      expect((await readyz(nothing.port)).body).toEqual({ status: 1, result: {} });
    } finally {
      await Promise.all([redisOnly.stop(), everything.stop(), nothing.stop()]);
    }
  });

  describe('goes not-ready when a dependency is cut, and ready again when it is back', () => {
    let postgres: TcpProxy;
    let redis: RedisServerHandle;
    let nats: NatsServerHandle;
    let running: Awaited<ReturnType<typeof startService>>;
    const down = async () => Object.keys(((await readyz(running.port)).body.message ?? {}) as object).sort();

    beforeAll(async () => {
      [postgres, redis, nats] = await Promise.all([
        startTcpProxy({ host: '127.0.0.1', port: 5432 }),
        startRedisServer(),
        startNatsServer(),
      ]);
      const { logger } = memoryLogger();
      running = await startService({
        logger,
        database: messagingDatabase(postgres.urlFor(infra.DATABASE_URL)),
        bus: { url: nats.url, prefix: infra.BUS_PREFIX, name: 'host-test-cut' },
        redis: { main: { url: redis.url, kind: 'command' } },
        http: healthOnly(logger),
      });
      await waitFor(async () => (await readyz(running.port)).status === 200);
    });

    afterAll(async () => {
      await running?.stop();
      await Promise.all([postgres?.close(), redis?.stop(), nats?.dispose()]);
    });

    it('the database', async () => {
      await postgres.cut();
      expect((await readyz(running.port)).status).toBe(503);
      expect(await down()).toEqual(['database']);
      await postgres.restore();
      await waitFor(async () => (await readyz(running.port)).status === 200);
    });

    it('Redis', async () => {
      await redis.stop();
      await waitFor(async () => (await readyz(running.port)).status === 503);
      expect(await down()).toEqual(['redis']);
      await redis.start();
      await waitFor(async () => (await readyz(running.port)).status === 200, { timeoutMs: 15_000 });
    });

    it('NATS', async () => {
      await nats.stop();
      await waitFor(async () => (await readyz(running.port)).status === 503);
      expect(await down()).toEqual(['nats']);
      await nats.start();
      await waitFor(async () => (await readyz(running.port)).status === 200, { timeoutMs: 15_000 });
    });
  });
});

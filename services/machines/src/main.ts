import type { Server } from 'node:http';
import { createTokenVerifier, redisNotBefore, remoteKeySource } from '@imm/auth';
import { type Bus, busReady, connectBus, type OutboxRelay, startOutboxRelay } from '@imm/bus';
import { checkDatabase, type Database, openDatabase } from '@imm/db';
import type { Logger } from '@imm/logging';
import { closerStack, serveHttp, isEntryPoint, runMain } from '@imm/web';
import { Redis } from 'ioredis';
import { createApp } from './app';
import { loadMachinesConfig, type MachinesConfig } from './config';
import { entities, MACHINES_SCHEMA } from './adapters/data/entities';
import { createMachineImportStore } from './adapters/data/machine-import-store';
import { createMachineStore } from './adapters/data/machine-store';
import { migrations } from './adapters/data/migrations/index';
import { createMachineService, type MachineService } from './domain/machine-service';
import { serveMachineEndpoints } from './entry/events/machine-endpoints';
import { serveImportMachines } from './entry/events/import-machines';
import { serveMachineGet } from './entry/events/machine-get';
import { startOperationCompletedConsumer } from './entry/events/operation-completed';
import { startStatusObservedConsumer } from './entry/events/status-observed';

export interface RunningMachines {
  port: number;
  server: Server;
  orm: Database;
  bus: Bus;
  relay: OutboxRelay;
  service: MachineService;
  /** Closes everything in reverse order of opening. */
  stop(): Promise<void>;
}

/**
 * Opens the database (migrating it), the bus, the outbox relay, the consumer and the responder,
 * then HTTP. Tests run the service in-process through this function.
 */
export async function startMachines(config: MachinesConfig, logger: Logger): Promise<RunningMachines> {
  const closers = closerStack(logger);
  try {
    const orm = await openDatabase({
      url: config.DATABASE_URL,
      schema: MACHINES_SCHEMA,
      entities,
      migrations,
      logger,
      poolMax: config.DB_POOL_MAX,
    });
    closers.push(() => orm.close());
    const bus = await connectBus({
      url: config.NATS_URL,
      prefix: config.BUS_PREFIX,
      streamReplicas: config.NATS_STREAM_REPLICAS,
      name: 'machines',
      logger,
    });
    closers.push(() => bus.close());
    const relay = startOutboxRelay({
      orm,
      bus,
      logger,
      intervalMs: config.OUTBOX_INTERVAL_MS,
      processedRetentionMs: config.PROCESSED_EVENT_RETENTION_HOURS * 3_600_000,
    });
    closers.push(() => relay.stop());
    // Publish right after a commit instead of at the relay's next tick; the tick still catches
    // whatever this misses (NATS down, a crash between commit and publish).
    const store = createMachineStore(orm, { onEventsCommitted: relay.wake });
    const service = createMachineService(store);
    const consumer = startOperationCompletedConsumer(bus, service, logger);
    closers.push(() => consumer.stop());
    const observed = startStatusObservedConsumer(bus, service, logger);
    closers.push(() => observed.stop());
    const responder = serveMachineGet(bus, service);
    closers.push(() => responder.stop());
    const endpoints = serveMachineEndpoints(bus, service);
    closers.push(() => endpoints.stop());
    const importer = serveImportMachines(
      bus,
      createMachineImportStore(orm, { onEventsCommitted: () => void relay.flush() }),
    );
    closers.push(() => importer.stop());

    // Only for the not-before marks of tokens: never waited for, never a readiness dependency.
    const redis = new Redis(config.REDIS_URL, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: config.REDIS_TIMEOUT_MS,
    });
    redis.on('error', () => {}); // reported once per outage by the not-before store below
    closers.push(async () => redis.disconnect());
    const notBefore = redisNotBefore(redis, {
      prefix: config.REDIS_PREFIX,
      timeoutMs: config.REDIS_TIMEOUT_MS,
      onUnavailable: (error) => logger.warn({ err: error }, 'not-before marks unreadable; tokens accepted'),
    });

    const app = createApp({
      logger,
      service,
      verifier: createTokenVerifier(remoteKeySource(config.AUTH_JWKS_URL), { notBefore }),
      readiness: {
        database: () => checkDatabase(orm),
        nats: () => busReady(bus),
      },
    });
    const { server, port } = await serveHttp(app, config.PORT, closers, {
      host: config.HOST,
      trustedProxies: config.TRUSTED_PROXIES,
    });
    logger.info({ port }, 'machines service listening');
    return { port, server, orm, bus, relay, service, stop: closers.closeAll };
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'machines', title: 'machines service', loadConfig: loadMachinesConfig, start: startMachines });
}

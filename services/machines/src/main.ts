import type { Server } from 'node:http';
import { serviceTokenVerifier } from '@imm/auth';
import type { Bus, OutboxRelay } from '@imm/bus';
import type { Database } from '@imm/db';
import { isEntryPoint, runMain, startService, busOf, listeningOf } from '@imm/host';
import type { Logger } from '@imm/logging';
import { createApp } from './app';
import { loadMachinesConfig, type MachinesConfig } from './config';
import { entities, MACHINES_SCHEMA } from './adapters/data/entities';
import { createMachineImportStore } from './adapters/data/machine-import-store';
import { createMachineStore } from './adapters/data/machine-store';
import { migrations } from './adapters/data/migrations/index';
import { createMachineService, type MachineService } from './domain/machine-service';
import { serveImportMachines } from './entry/events/import-machines';
import { serveMachineEndpoints } from './entry/events/machine-endpoints';
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

/** The machines service: what it opens, in order; tests run it in-process through this too. */
export async function startMachines(config: MachinesConfig, logger: Logger): Promise<RunningMachines> {
  const { server, port, context, stop } = await startService({
    logger,
    database: { url: config.DATABASE_URL, schema: MACHINES_SCHEMA, entities, migrations, poolMax: config.DB_POOL_MAX },
    bus: busOf(config, 'machines'),
    relay: {
      intervalMs: config.OUTBOX_INTERVAL_MS,
      processedRetentionMs: config.PROCESSED_EVENT_RETENTION_HOURS * 3_600_000,
    },
    // Only for the not-before marks of tokens, which report its outages: never a readiness dependency.
    redis: { notBefore: { url: config.REDIS_URL, kind: 'optional', commandTimeoutMs: config.REDIS_TIMEOUT_MS } },
    context: ({ orm, eventsCommitted }) => ({
      service: createMachineService(createMachineStore(orm, { onEventsCommitted: eventsCommitted })),
    }),
    entries: {
      'operation-completed': ({ bus, service }) => startOperationCompletedConsumer(bus, service, logger),
      'status-observed': ({ bus, service }) => startStatusObservedConsumer(bus, service, logger),
      'machine-get': ({ bus, service }) => serveMachineGet(bus, service),
      'machine-endpoints': ({ bus, service }) => serveMachineEndpoints(bus, service),
      'import-machines': ({ bus, orm, eventsCommitted }) =>
        serveImportMachines(bus, createMachineImportStore(orm, { onEventsCommitted: eventsCommitted })),
    },
    http: {
      ...listeningOf(config),
      app: ({ service, redis, readiness }) =>
        createApp({
          logger,
          service,
          verifier: serviceTokenVerifier(config, redis.notBefore, logger),
          readiness,
        }),
    },
  });
  logger.info({ port }, 'machines service listening');
  const { orm, bus, relay, service } = context;
  return { port, server, orm, bus, relay, service, stop };
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'machines', title: 'machines service', loadConfig: loadMachinesConfig, start: startMachines });
}

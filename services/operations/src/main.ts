import type { Server } from 'node:http';
import { serviceTokenVerifier } from '@imm/auth';
import { isEntryPoint, runMain, startService, busOf, listeningOf } from '@imm/host';
import { createLogger } from '@imm/logging';
import { createApp } from './app';
import { type ApiConfig, loadApiConfig } from './config';
import { operationsDatabase } from './adapters/data/database';
import { createHistoryImportStore } from './adapters/data/history-import-store';
import { createOperationRepository } from './adapters/data/operation-repository';
import { createOperationService } from './domain/operation-service';
import { serveImportHistory } from './entry/events/import-history';
import { busMachineDirectory } from './adapters/events/machine-directory';
import { createJobSubmitter, createOperationQueue } from './adapters/queue/operation-queue';

export interface RunningOperationsApi {
  server: Server;
  /** The port bound (useful with PORT=0). */
  port: number;
  stop(): Promise<void>;
}

/**
 * The API process: accepts commands (recorded, then queued) and serves history. Tests start it
 * in-process through this too.
 */
export async function startOperationsApi(
  config: ApiConfig,
  logger = createLogger('operations', config.LOG_LEVEL),
): Promise<RunningOperationsApi> {
  const { server, port, stop } = await startService({
    logger,
    database: operationsDatabase(config.DATABASE_URL),
    bus: busOf(config, 'operations'),
    relay: {},
    redis: { queue: { url: config.REDIS_URL, kind: 'command' } },
    context: ({ orm, bus, redis, own, eventsCommitted }) => {
      const queue = own(createOperationQueue(redis.queue, config.REDIS_PREFIX, logger));
      const service = createOperationService({
        store: createOperationRepository(orm),
        machines: busMachineDirectory(bus, config.MACHINES_REQUEST_TIMEOUT_MS),
        jobs: createJobSubmitter(queue, logger, config.QUEUE_ADD_TIMEOUT_MS),
        eventsRecorded: eventsCommitted,
      });
      return { service };
    },
    entries: {
      'import-history': ({ bus, orm, eventsCommitted }) =>
        serveImportHistory(bus, createHistoryImportStore(orm, { onEventsCommitted: eventsCommitted })),
    },
    http: {
      ...listeningOf(config),
      app: ({ service, redis, readiness }) =>
        createApp({
          logger,
          service,
          verifier: serviceTokenVerifier(config, redis.queue, logger),
          readiness,
        }),
    },
  });
  logger.info({ port }, 'operations API listening');
  return { server, port, stop };
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'operations', title: 'operations API', loadConfig: loadApiConfig, start: startOperationsApi });
}

import type { Server } from 'node:http';
import { createTokenVerifier, redisNotBefore, remoteKeySource } from '@imm/auth';
import { busReady, connectBus } from '@imm/bus';
import { checkDatabase } from '@imm/db';
import { createLogger } from '@imm/logging';
import { closerStack, serveHttp, isEntryPoint, redisReady, runMain } from '@imm/web';
import { createApp } from './app';
import { type ApiConfig, loadApiConfig } from './config';
import { openOperationsDatabase } from './adapters/data/database';
import { createHistoryImportStore } from './adapters/data/history-import-store';
import { createOperationRepository } from './adapters/data/operation-repository';
import { createOperationService } from './domain/operation-service';
import { serveImportHistory } from './entry/events/import-history';
import { busMachineDirectory } from './adapters/events/machine-directory';
import { startOutbox } from './adapters/events/outbox';
import { closeRedis, connectRedis, createJobSubmitter, createOperationQueue } from './adapters/queue/operation-queue';

export interface RunningOperationsApi {
  server: Server;
  /** The port bound (useful with PORT=0). */
  port: number;
  stop(): Promise<void>;
}

/**
 * The API process: accepts commands (recorded, then queued) and serves history. Opens everything in
 * order; `stop` closes it in reverse. Tests start it in-process through this too.
 */
export async function startOperationsApi(
  config: ApiConfig,
  logger = createLogger('operations', config.LOG_LEVEL),
): Promise<RunningOperationsApi> {
  const closers = closerStack(logger);
  try {
    const orm = await openOperationsDatabase(config.DATABASE_URL, logger);
    closers.push(() => orm.close());

    const redis = connectRedis(config.REDIS_URL, logger, 'fail-fast');
    closers.push(() => closeRedis(redis));
    const queue = createOperationQueue(redis, config.REDIS_PREFIX, logger);
    closers.push(() => queue.close());

    const bus = await connectBus({ url: config.NATS_URL, prefix: config.BUS_PREFIX, name: 'operations', logger });
    closers.push(() => bus.close());
    const outbox = startOutbox(orm, bus, logger);
    closers.push(() => outbox.stop());

    const importer = serveImportHistory(bus, createHistoryImportStore(orm, { onEventsCommitted: outbox.nudge }));
    closers.push(() => importer.stop());

    const repository = createOperationRepository(orm);
    const submitter = createJobSubmitter(queue, logger, config.QUEUE_ADD_TIMEOUT_MS);
    const service = createOperationService({
      store: repository,
      machines: busMachineDirectory(bus, config.MACHINES_REQUEST_TIMEOUT_MS),
      jobs: submitter,
      eventsRecorded: outbox.nudge,
    });

    const app = createApp({
      logger,
      service,
      verifier: createTokenVerifier(remoteKeySource(config.AUTH_JWKS_URL), {
        notBefore: redisNotBefore(redis, {
          prefix: config.REDIS_PREFIX,
          timeoutMs: config.REDIS_TIMEOUT_MS,
          onUnavailable: (error) => logger.warn({ err: error }, 'not-before marks unreadable; tokens accepted'),
        }),
      }),
      readiness: {
        database: () => checkDatabase(orm),
        redis: () => redisReady(redis),
        nats: () => busReady(bus),
      },
    });
    const { server, port } = await serveHttp(app, config.PORT, closers, {
      host: config.HOST,
      trustedProxies: config.TRUSTED_PROXIES,
    });
    logger.info({ port }, 'operations API listening');
    return { server, port, stop: closers.closeAll };
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'operations', title: 'operations API', loadConfig: loadApiConfig, start: startOperationsApi });
}

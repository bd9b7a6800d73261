import type { Server } from 'node:http';
import { isEntryPoint, runMain, startService, busOf, listeningOf } from '@imm/host';
import { createLogger } from '@imm/logging';
import { createHttpApp } from '@imm/web';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { operationsDatabase } from './adapters/data/database';
import { createOperationRepository } from './adapters/data/operation-repository';
import { createWatchRepository } from './adapters/data/watch-repository';
import { createDriverRegistry, createOpcuaSessionPool, driverFactories, networkPolicy } from './adapters/drivers';
import { opcuaSettingsOf } from './adapters/drivers/opcua-settings';
import { startMachineMonitor } from './entry/monitor/machine-monitor';
import { createJobSubmitter, createOperationQueue } from './adapters/queue/operation-queue';
import { type OperationWorker, startOperationWorker } from './entry/queue/operation-worker';
import { startSweeper } from './entry/queue/sweeper';

export interface RunningOperationsWorker {
  /** The health server (GET /healthz, /readyz). */
  server: Server;
  port: number;
  worker: OperationWorker;
  stop(): Promise<void>;
}

/**
 * The worker process: drives queued commands through their machines' drivers, records results with
 * their completion events, publishes its outbox, and sweeps for commands without a job or past
 * their deadline. Serves only /healthz and /readyz.
 */
export async function startOperationsWorker(
  config: WorkerConfig,
  logger = createLogger('operations-worker', config.LOG_LEVEL),
): Promise<RunningOperationsWorker> {
  const policy = networkPolicy(config.MACHINE_NETWORKS);
  if (policy.networks.length === 0) logger.warn('MACHINE_NETWORKS is empty: the worker may connect to any host');
  const opcua = opcuaSettingsOf(config);
  const { server, port, context, stop } = await startService({
    logger,
    database: operationsDatabase(config.DATABASE_URL),
    bus: busOf(config, 'operations-worker'),
    relay: {},
    // The sweeper's queue fails fast while Redis is away (and is the readiness check); the worker's waits for it.
    redis: { queue: { url: config.REDIS_URL, kind: 'command' }, worker: { url: config.REDIS_URL, kind: 'blocking' } },
    context: ({ orm, redis, own, eventsCommitted }) => {
      const queue = own(createOperationQueue(redis.queue, config.REDIS_PREFIX, logger));
      const sessions = own(createOpcuaSessionPool(opcua, logger), (pool) => pool.closeAll());
      const repository = createOperationRepository(orm);
      const worker = startOperationWorker({
        connection: redis.worker,
        prefix: config.REDIS_PREFIX,
        concurrency: config.WORKER_CONCURRENCY,
        lockMs: config.JOB_LOCK_MS,
        repository,
        drivers: createDriverRegistry(driverFactories, {
          policy,
          sim: { latencyMs: config.SIM_LATENCY_MS, failRate: config.SIM_FAIL_RATE },
          opcua: { settings: opcua, sessions },
        }),
        policy: {
          attempts: config.DRIVER_ATTEMPTS,
          timeoutMs: config.DRIVER_TIMEOUT_MS,
          backoffMs: config.DRIVER_BACKOFF_MS,
        },
        deadlineMs: config.OPERATION_DEADLINE_MS,
        logger,
        onFinished: eventsCommitted,
      });
      own(worker, (running) => running.stop(config.WORKER_SHUTDOWN_MS));
      return { queue, sessions, repository, worker };
    },
    entries: {
      sweeper: ({ repository, queue, eventsCommitted }) =>
        startSweeper({
          repository,
          submitter: createJobSubmitter(queue, logger, 2000),
          intervalMs: config.SWEEP_INTERVAL_MS,
          deadlineMs: config.OPERATION_DEADLINE_MS,
          idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3600_000,
          logger,
          onExpired: eventsCommitted,
        }),
      monitor:
        config.OPCUA_MONITOR &&
        (({ bus, orm, sessions, eventsCommitted }) =>
          startMachineMonitor({
            bus,
            repository: createWatchRepository(orm),
            settings: opcua,
            sessions,
            policy,
            offlineAfterMs: config.OPCUA_OFFLINE_AFTER_MS,
            syncMs: config.OPCUA_MONITOR_SYNC_MS,
            leaseMs: config.OPCUA_LEASE_MS,
            logger,
            onPublished: eventsCommitted,
          })),
    },
    http: {
      ...listeningOf(config),
      app: ({ readiness }) => createHttpApp({ logger, readiness, mount: () => {} }),
    },
  });
  logger.info({ port, concurrency: config.WORKER_CONCURRENCY }, 'operations worker running');
  return { server, port, worker: context.worker, stop };
}

if (isEntryPoint(import.meta.url)) {
  void runMain({
    name: 'operations-worker',
    title: 'operations worker',
    loadConfig: loadWorkerConfig,
    start: startOperationsWorker,
    // Running commands get WORKER_SHUTDOWN_MS, one already sent up to its driver timeout more (it is
    // never cut off); the rest of the shutdown a few seconds more.
    shutdownDeadlineMs: (config) => config.WORKER_SHUTDOWN_MS + config.DRIVER_TIMEOUT_MS + 10_000,
  });
}

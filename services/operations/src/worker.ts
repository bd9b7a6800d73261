import type { Server } from 'node:http';
import { busReady, connectBus } from '@imm/bus';
import { checkDatabase } from '@imm/db';
import { createLogger } from '@imm/logging';
import { closerStack, createHttpApp, isEntryPoint, redisReady, runMain, serveHttp } from '@imm/web';
import { loadWorkerConfig, type WorkerConfig } from './config';
import { openOperationsDatabase } from './adapters/data/database';
import { createOperationRepository } from './adapters/data/operation-repository';
import { createWatchRepository } from './adapters/data/watch-repository';
import { createDriverRegistry, createOpcuaSessionPool, driverFactories, networkPolicy } from './adapters/drivers';
import { opcuaSettingsOf } from './adapters/drivers/opcua-settings';
import { startOutbox } from './adapters/events/outbox';
import { closeRedis, connectRedis, createJobSubmitter, createOperationQueue } from './adapters/queue/operation-queue';
import { type OperationWorker, startOperationWorker } from './entry/queue/operation-worker';
import { startSweeper } from './entry/queue/sweeper';
import { startMachineMonitor } from './entry/monitor/machine-monitor';

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
  const closers = closerStack(logger);
  try {
    const orm = await openOperationsDatabase(config.DATABASE_URL, logger);
    closers.push(() => orm.close());

    const bus = await connectBus({
      url: config.NATS_URL,
      prefix: config.BUS_PREFIX,
      name: 'operations-worker',
      logger,
    });
    closers.push(() => bus.close());
    const outbox = startOutbox(orm, bus, logger);
    closers.push(() => outbox.stop());

    // The sweeper's queue fails fast while Redis is away; the worker's connection waits for it.
    const queueRedis = connectRedis(config.REDIS_URL, logger, 'fail-fast');
    closers.push(() => closeRedis(queueRedis));
    const queue = createOperationQueue(queueRedis, config.REDIS_PREFIX, logger);
    closers.push(() => queue.close());
    const workerRedis = connectRedis(config.REDIS_URL, logger, 'blocking');
    closers.push(() => closeRedis(workerRedis));

    const repository = createOperationRepository(orm);
    const policy = networkPolicy(config.MACHINE_NETWORKS);
    if (policy.networks.length === 0) logger.warn('MACHINE_NETWORKS is empty: the worker may connect to any host');
    const opcuaSettings = opcuaSettingsOf(config);
    const opcuaSessions = createOpcuaSessionPool(opcuaSettings, logger);
    closers.push(() => opcuaSessions.closeAll());
    const drivers = createDriverRegistry(driverFactories, {
      policy,
      sim: { latencyMs: config.SIM_LATENCY_MS, failRate: config.SIM_FAIL_RATE },
      opcua: { settings: opcuaSettings, sessions: opcuaSessions },
    });
    const worker = startOperationWorker({
      connection: workerRedis,
      prefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockMs: config.JOB_LOCK_MS,
      repository,
      drivers,
      policy: {
        attempts: config.DRIVER_ATTEMPTS,
        timeoutMs: config.DRIVER_TIMEOUT_MS,
        backoffMs: config.DRIVER_BACKOFF_MS,
      },
      deadlineMs: config.OPERATION_DEADLINE_MS,
      logger,
      onFinished: outbox.nudge,
    });
    closers.push(() => worker.stop(config.WORKER_SHUTDOWN_MS));

    const sweeper = startSweeper({
      repository,
      submitter: createJobSubmitter(queue, logger, 2000),
      intervalMs: config.SWEEP_INTERVAL_MS,
      deadlineMs: config.OPERATION_DEADLINE_MS,
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3600_000,
      logger,
      onExpired: outbox.nudge,
    });
    closers.push(() => sweeper.stop());

    if (config.OPCUA_MONITOR) {
      const monitor = startMachineMonitor({
        bus,
        repository: createWatchRepository(orm),
        settings: opcuaSettings,
        sessions: opcuaSessions,
        policy,
        offlineAfterMs: config.OPCUA_OFFLINE_AFTER_MS,
        syncMs: config.OPCUA_MONITOR_SYNC_MS,
        leaseMs: config.OPCUA_LEASE_MS,
        logger,
        onPublished: outbox.nudge,
      });
      closers.push(() => monitor.stop());
    }

    const app = createHttpApp({
      logger,
      readiness: {
        database: () => checkDatabase(orm),
        redis: () => redisReady(queueRedis),
        nats: () => busReady(bus),
      },
      mount: () => {},
    });
    const { server, port } = await serveHttp(app, config.PORT, closers, {
      host: config.HOST,
      trustedProxies: config.TRUSTED_PROXIES,
    });
    logger.info({ port, concurrency: config.WORKER_CONCURRENCY }, 'operations worker running');
    return { server, port, worker, stop: closers.closeAll };
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
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

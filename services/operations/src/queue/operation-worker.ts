import { randomUUID } from 'node:crypto';
import { OperationResult } from '@imm/contracts';
import { type Logger, runWithRequestId } from '@imm/logging';
import { SpanKind, withSpan } from '@imm/telemetry';
import { type Job, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { OperationRepository } from '../data/operation-repository';
import { type CommandOutcome, DriveCancelledError, type DrivePolicy, driveCommand } from '../domain/drive-command';
import type { HistoryEntry } from '../domain/history';
import type { DriverRegistry } from '../drivers/registry';
import { countCommand, jobWait } from '../metrics';
import { type OperationJob, QUEUE_NAME } from './operation-queue';

export interface OperationWorkerOptions {
  /** A connection whose commands wait for a reconnect (maxRetriesPerRequest: null). */
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** A crashed worker's job is taken over after about this long (lock duration and stalled check). */
  lockMs: number;
  repository: OperationRepository;
  drivers: DriverRegistry;
  policy: DrivePolicy;
  deadlineMs: number;
  logger: Logger;
  /** Called after a result was recorded (with its event in the outbox). */
  onFinished?: (entry: HistoryEntry) => void;
}

export interface OperationWorker {
  worker: Worker<OperationJob>;
  /**
   * Stops taking jobs and waits for the running ones; after `graceMs` the rest are cancelled and
   * go back to the queue for another worker.
   */
  stop(graceMs: number): Promise<void>;
}

const RECORD_ATTEMPTS = 6;

/**
 * Records the result, retrying while the database is away: the machine has acted, so giving up
 * here means driving it again later (the sweeper queues the entry again).
 */
async function recordResult(
  repository: OperationRepository,
  entry: HistoryEntry,
  outcome: CommandOutcome,
  logger: Logger,
): Promise<HistoryEntry | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await repository.finish(entry, outcome);
    } catch (error) {
      if (attempt >= RECORD_ATTEMPTS) throw error;
      const delay = 250 * 2 ** attempt;
      logger.warn({ err: error, retryInMs: delay }, 'recording the result failed, will retry');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The BullMQ worker that drives each accepted command to its result, once. */
export function startOperationWorker(options: OperationWorkerOptions): OperationWorker {
  const { repository, drivers, policy, deadlineMs, logger } = options;

  async function drive(entry: HistoryEntry, job: Job<OperationJob>, token: string | undefined, signal: AbortSignal) {
    const log = logger.child({ operationId: entry.id, machineId: entry.machineId, command: entry.command });
    let outcome: CommandOutcome;
    if (Date.now() - entry.createdAt.getTime() > deadlineMs) {
      // Too late to act on: the user has long been told nothing happened yet.
      outcome = {
        result: OperationResult.INTERNALFAILED,
        message: `not started within ${Math.round(deadlineMs / 1000)} s of being accepted`,
      };
    } else {
      try {
        log.debug({ attempt: job.attemptsStarted }, 'driving the machine');
        outcome = await driveCommand(() => drivers.driverFor(entry.endpoint), entry.command, policy, signal);
      } catch (error) {
        if (error instanceof DriveCancelledError && token) {
          // The worker is stopping: hand the job back at once instead of waiting for its lock to expire.
          await job.moveToWait(token);
          log.info('command released for another worker');
          throw new WaitingError();
        }
        throw error;
      }
    }
    const finished = await recordResult(repository, entry, outcome, log);
    if (finished) {
      countCommand(finished.command, finished.result);
      log.info({ result: finished.result, message: finished.message, detail: outcome.detail }, 'command finished');
      options.onFinished?.(finished);
    } else {
      log.info('command had been finished already; this run changed nothing');
    }
  }

  // Three parameters: BullMQ then hands us an abort signal, which cancelAllJobs() triggers.
  async function processJob(job: Job<OperationJob>, token?: string, signal?: AbortSignal): Promise<void> {
    jobWait.observe(((job.processedOn ?? Date.now()) - job.timestamp) / 1000);
    const { trace } = job.data;
    if (!trace) return processEntry(job, token, signal);
    return withSpan(`process ${QUEUE_NAME}`, { kind: SpanKind.CONSUMER, parent: trace }, () =>
      processEntry(job, token, signal),
    );
  }

  async function processEntry(job: Job<OperationJob>, token?: string, signal?: AbortSignal): Promise<void> {
    const entry = await repository.findEntry(job.data.entryId);
    // Finished already (a duplicate job, or the deadline sweep), or never committed.
    if (!entry || entry.result !== OperationResult.PENDING) return;
    await runWithRequestId(entry.requestId ?? randomUUID(), () =>
      drive(entry, job, token, signal ?? new AbortController().signal),
    );
  }

  const worker = new Worker<OperationJob>(QUEUE_NAME, processJob, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    // A job whose worker died twice is failed (and removed); the sweeper queues its entry again.
    maxStalledCount: 2,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  });
  worker.on('error', (error) => logger.warn({ err: error }, 'worker error'));
  worker.on('failed', (job, error) =>
    logger.error({ err: error, jobId: job?.id }, 'job failed; the sweeper will queue it again'),
  );
  worker.on('stalled', (jobId) => logger.warn({ jobId }, 'job stalled (its worker stopped); queued again'));

  return {
    worker,
    async stop(graceMs) {
      const timer = setTimeout(() => {
        logger.warn({ graceMs }, 'running commands did not finish in time; releasing them');
        worker.cancelAllJobs('shutdown');
      }, graceMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

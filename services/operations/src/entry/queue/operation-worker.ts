import { randomUUID } from 'node:crypto';
import { OperationResult } from '@imm/contracts';
import { type Logger, runWithRequestId } from '@imm/logging';
import { SpanKind, withSpan } from '@imm/telemetry';
import { DelayedError, type Job, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DriveClaim, OperationRepository } from '../../adapters/data/operation-repository';
import {
  type CommandOutcome,
  DriveCancelledError,
  type DrivePolicy,
  driveCommand,
  LeaseLostError,
  outcomeOfLostDrive,
} from '../../domain/drive-command';
import type { HistoryEntry } from '../../domain/history';
import type { DriverRegistry } from '../../adapters/drivers/registry';
import { countCommand, jobWait } from '../../adapters/metrics';
import { type OperationJob, QUEUE_NAME } from '../../adapters/queue/operation-queue';

export interface OperationWorkerOptions {
  /** A connection whose commands wait for a reconnect (maxRetriesPerRequest: null). */
  connection: Redis;
  prefix: string;
  concurrency: number;
  /**
   * A crashed worker's job is taken over after about this long (BullMQ lock and stalled check);
   * also the lease a drive holds on its entry, renewed a few times per period while it runs.
   */
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
   * Stops taking jobs and waits for the running ones. After `graceMs` the commands not sent yet go
   * back to the queue; one already sent is waited for (up to its driver timeout), or, if its result
   * cannot be recorded, handed back with that result so nobody sends it again.
   */
  stop(graceMs: number): Promise<void>;
}

const MAX_RECORD_BACKOFF_MS = 2000;
/** Beyond the grace period and one driver timeout, how long BullMQ's close may still take. */
const CLOSE_MARGIN_MS = 5000;

/** The worker is stopping and handed the job back (with its outcome, if it had one). */
class HandedBack extends Error {}

/** The BullMQ worker that drives each accepted command to its result, sending it at most once. */
export function startOperationWorker(options: OperationWorkerOptions): OperationWorker {
  const { repository, drivers, policy, deadlineMs, logger } = options;
  const leaseMs = options.lockMs;
  const workerId = randomUUID().slice(0, 8);

  /**
   * Records the result, retrying while the database is away, for as long as it takes: the machine
   * has acted (or may have), so the command must never be driven again. The outcome is in the job
   * too, so if this worker dies or stops meanwhile, whoever takes the job over records it.
   */
  async function recordResult(
    entry: HistoryEntry,
    outcome: CommandOutcome,
    job: Job<OperationJob>,
    token: string | undefined,
    stopping: AbortSignal,
    log: Logger,
  ): Promise<HistoryEntry | undefined> {
    const kept = job.updateData({ ...job.data, outcome }).then(
      () => true,
      (error) => {
        log.warn({ err: error }, 'could not keep the outcome in the job');
        return false;
      },
    );
    for (let attempt = 1; ; attempt++) {
      try {
        return await repository.finish(entry, outcome);
      } catch (error) {
        if (stopping.aborted && token && (await kept)) {
          // Stopping, and the result is safe in the job: the next worker records it.
          await job.moveToWait(token);
          log.warn({ err: error, outcome }, 'could not record the result before stopping; handed back with it');
          throw new HandedBack();
        }
        const delay = Math.min(100 * 2 ** attempt, MAX_RECORD_BACKOFF_MS);
        log.warn({ err: error, retryInMs: delay, attempt }, 'recording the result failed, will retry');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Keeps the entry's lease while this run holds it. */
  function holdLease(entryId: number, holder: string, log: Logger): () => void {
    const timer = setInterval(
      () => {
        repository.renewLease(entryId, holder, leaseMs).then(
          (held) => held || log.warn('lease on the command was lost'),
          (error) => log.debug({ err: error }, 'could not renew the lease; will try again'),
        );
      },
      Math.max(Math.floor(leaseMs / 3), 50),
    );
    return () => clearInterval(timer);
  }

  /**
   * Takes the entry's lease; for a job that will drive the machine (it carries no outcome), the
   * same statement marks the first attempt. Undefined when there is nothing for this run to do.
   */
  async function claimEntry(job: Job<OperationJob>, token: string | undefined, holder: string) {
    const { entryId } = job.data;
    const claim = await repository.claim(entryId, holder, leaseMs, job.data.outcome ? undefined : { deadlineMs });
    if (claim) return claim;
    const entry = await repository.findEntry(entryId);
    // Finished already (a duplicate job, or the deadline sweep), or never committed.
    if (entry?.result !== OperationResult.PENDING || !token) return undefined;
    // Another worker holds it and may be talking to the machine right now (or died holding it):
    // look again once its lease could have run out, keeping the job and any outcome it carries.
    logger.debug(
      { operationId: entry.id, machineId: entry.machineId, command: entry.command },
      'command held by another worker; looking again later',
    );
    await job.moveToDelayed(Date.now() + leaseMs, token);
    throw new DelayedError();
  }

  async function drive(
    claim: DriveClaim,
    job: Job<OperationJob>,
    token: string | undefined,
    stopping: AbortSignal,
    log: Logger,
    holder: string,
  ): Promise<void> {
    const { entry } = claim;
    const release = holdLease(entry.id, holder, log);
    let sent = claim.sentBefore || claim.firstMark === 'sent';
    try {
      let outcome: CommandOutcome;
      if (job.data.outcome) {
        // A worker before this one got the machine's answer but could not record it.
        outcome = job.data.outcome;
        log.info({ outcome }, 'recording the outcome a previous worker kept');
      } else if (claim.sentBefore) {
        // A worker sent it and is gone without a trace of the answer: never send it again.
        outcome = await outcomeOfLostDrive(() => drivers.driverFor(entry.endpoint), entry.command, policy);
        log.warn({ outcome }, 'the worker that sent this command is gone; its outcome is unknown');
      } else {
        log.debug({ attempt: job.attemptsStarted }, 'driving the machine');
        outcome = await driveCommand(
          () => drivers.driverFor(entry.endpoint),
          entry.command,
          policy,
          {
            first: claim.firstMark,
            markSent: async () => {
              const mark = await repository.markSent(entry.id, holder, deadlineMs);
              sent = mark === 'sent';
              return mark;
            },
            clearSent: async () => {
              await repository.clearSent(entry.id, holder);
              sent = false;
            },
          },
          stopping,
          deadlineMs,
        );
      }
      const finished = await recordResult(entry, outcome, job, token, stopping, log);
      if (finished) {
        countCommand(finished.command, finished.result);
        log.info({ result: finished.result, message: finished.message, detail: outcome.detail }, 'command finished');
        options.onFinished?.(finished);
      } else {
        log.info('command had been finished already; this run changed nothing');
      }
    } catch (error) {
      if (error instanceof DriveCancelledError && token) {
        // Stopping before the command was sent: hand it back at once instead of waiting for its lock.
        await repository.releaseLease(entry.id, holder).catch(() => {});
        await job.moveToWait(token);
        log.info('command released for another worker');
        throw new WaitingError();
      }
      if (error instanceof HandedBack) throw new WaitingError();
      if (error instanceof LeaseLostError) {
        log.warn('another worker took the command over; this run sends nothing');
        return;
      }
      // Not sent: let the lease go so the next try need not wait for it. Sent: keep it until it
      // expires, so nobody reads "outcome unknown" while this worker may still be recording.
      if (!sent) await repository.releaseLease(entry.id, holder).catch(() => {});
      throw error;
    } finally {
      release();
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
    // One holder per run: a second job for the same entry (after Redis lost the first) never shares it.
    const holder = `${workerId}:${randomUUID().slice(0, 8)}`;
    const claim = await claimEntry(job, token, holder);
    if (!claim) return;
    const { entry } = claim;
    const log = logger.child({ operationId: entry.id, machineId: entry.machineId, command: entry.command });
    await runWithRequestId(entry.requestId ?? randomUUID(), () =>
      drive(claim, job, token, signal ?? new AbortController().signal, log, holder),
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
        logger.warn({ graceMs }, 'running commands did not finish in time; releasing those not sent yet');
        // Only commands between attempts react: a sent one runs to its answer or driver timeout.
        worker.cancelAllJobs('shutdown');
      }, graceMs);
      // BullMQ's close can wait for ever when it starts while its blocking connection is
      // reconnecting (Redis just came back): it waits for an 'end' of that connection that never comes.
      // Past the grace period and the driver's timeout, the connections are dropped and the stop
      // goes on; a job still active then is taken over through BullMQ's stalled check, and its
      // sent mark keeps it from being sent twice.
      let giveUp: NodeJS.Timeout | undefined;
      const closed = worker.close().then(() => true);
      const late = new Promise<false>((resolve) => {
        giveUp = setTimeout(() => resolve(false), graceMs + policy.timeoutMs + CLOSE_MARGIN_MS);
      });
      try {
        if (!(await Promise.race([closed, late]))) {
          closed.catch(() => {}); // whatever it ends with now, nobody waits for it
          logger.warn('the queue worker did not close in time; disconnecting it');
          // Not awaited: it waits for the same connection's end as the close does.
          void worker.disconnect().catch(() => {});
        }
      } finally {
        clearTimeout(timer);
        clearTimeout(giveUp);
      }
    },
  };
}

import type { Logger } from '@imm/logging';
import { currentTraceContext, SpanKind, type TraceCarrier, tracingEnabled, withSpan } from '@imm/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CommandOutcome } from '../../domain/drive-command';
import type { HistoryEntry } from '../../domain/history';
import type { JobSubmitter } from '../../domain/operation-service';
import { reportQueueDepth } from '../metrics';

export const QUEUE_NAME = 'operations';
const JOB_NAME = 'drive';
const SEND_SPAN = `send ${QUEUE_NAME}`;

/** What a job carries: the entry is the truth, read again by the worker. */
export interface OperationJob {
  entryId: number;
  /**
   * The machine's answer, kept here by a worker that got it but could not record it yet (the
   * database was away, or it was stopping): whoever runs the job next records this, sending nothing.
   */
  outcome?: CommandOutcome;
  /** W3C trace context of the request that queued it, when traced: the worker continues that trace. */
  trace?: TraceCarrier;
}

/** BullMQ refuses integer ids, so the entry id gets a prefix: one job per entry, never two. */
export function jobIdOf(entryId: number): string {
  return `operation-${entryId}`;
}

export function createOperationQueue(connection: Redis, prefix: string, logger: Logger): Queue<OperationJob> {
  const queue = new Queue<OperationJob>(QUEUE_NAME, { connection, prefix });
  // Connection errors are logged by the connection; without a listener they would crash the process.
  queue.on('error', (error) => logger.debug({ err: error }, 'queue error'));
  reportQueueDepth(queue);
  return queue;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const jobOptions = (entryId: number) => ({
  jobId: jobIdOf(entryId),
  // Gone once finished: the history entry is the record. A job that failed without recording a
  // result (the database was down) is queued again by the sweeper.
  removeOnComplete: true,
  removeOnFail: true,
});

export interface OperationSubmitter extends JobSubmitter {
  /** Queues every entry that has no job (adding an existing job id changes nothing). Throws on failure. */
  submitMany(entries: HistoryEntry[]): Promise<void>;
}

export function createJobSubmitter(queue: Queue<OperationJob>, logger: Logger, timeoutMs: number): OperationSubmitter {
  return {
    async submit(entry) {
      try {
        const add = (data: OperationJob) => withTimeout(queue.add(JOB_NAME, data, jobOptions(entry.id)), timeoutMs);
        if (tracingEnabled) {
          // The job carries the context of its own `send` span, so the worker's span is its child.
          await withSpan(SEND_SPAN, { kind: SpanKind.PRODUCER }, () =>
            add({ entryId: entry.id, trace: currentTraceContext() }),
          );
        } else {
          await add({ entryId: entry.id });
        }
      } catch (error) {
        logger.warn({ err: error, operationId: entry.id }, 'could not queue the command now; the sweeper will');
      }
    },
    async submitMany(entries) {
      if (entries.length === 0) return;
      await withTimeout(
        queue.addBulk(
          entries.map((entry) => ({ name: JOB_NAME, data: { entryId: entry.id }, opts: jobOptions(entry.id) })),
        ),
        timeoutMs,
      );
    },
  };
}

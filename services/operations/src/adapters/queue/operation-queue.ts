import type { Logger } from '@imm/logging';
import { currentTraceContext, SpanKind, type TraceCarrier, tracingEnabled, withSpan } from '@imm/telemetry';
import { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
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

/**
 * A Redis connection that logs an outage once and its end once. `blocking` is the worker's kind
 * (commands wait for the reconnect, as BullMQ workers need); otherwise commands fail at once while
 * disconnected, so a request or a sweep is never held up by Redis.
 */
export function connectRedis(url: string, logger: Logger, kind: 'blocking' | 'fail-fast'): Redis {
  const options: RedisOptions =
    kind === 'blocking'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 };
  const redis = new Redis(url, options);
  let down = false;
  redis.on('error', (error) => {
    if (!down) logger.warn({ err: error, connection: kind }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info({ connection: kind }, 'redis reconnected');
    down = false;
  });
  return redis;
}

/** Closes politely when Redis answers, at once when it does not (a QUIT would wait for the reconnect). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
  redis.disconnect();
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

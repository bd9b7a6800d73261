import type { Logger } from '@imm/logging';
import type { OperationRepository } from '../../adapters/data/operation-repository';
import { notStartedMessage } from '../../domain/drive-command';
import type { HistoryEntry } from '../../domain/history';
import type { OperationSubmitter } from '../../adapters/queue/operation-queue';

export interface SweeperOptions {
  repository: OperationRepository;
  submitter: OperationSubmitter;
  intervalMs: number;
  /** PENDING for longer than this: INTERNALFAILED. */
  deadlineMs: number;
  idempotencyTtlMs: number;
  logger: Logger;
  /** Called after commands were ended by the deadline (their events are in the outbox). */
  onExpired?: (entries: HistoryEntry[]) => void;
}

/** Entries queued per sweep; more wait for the next one. */
const BATCH = 1000;
const FORGET_EVERY_MS = 10 * 60 * 1000;

/**
 * No command is lost or left PENDING forever: every few seconds, each PENDING entry is queued
 * (a no-op for one that has its job; it queues those the API could not, while Redis was down, and
 * those whose job was lost), and entries past their deadline end as INTERNALFAILED.
 */
export function startSweeper(options: SweeperOptions): { stop(): Promise<void>; sweep(): Promise<void> } {
  const { repository, submitter, logger } = options;
  const log = logger.child({ component: 'sweeper' });
  let lastForget = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  async function sweepOnce(): Promise<void> {
    try {
      const expired = await repository.expireOverdue(options.deadlineMs, notStartedMessage(options.deadlineMs));
      if (expired.length > 0) {
        log.warn({ operationIds: expired.map((e) => e.id) }, 'commands ended as INTERNALFAILED: past their deadline');
        options.onExpired?.(expired);
      }
      const pending = await repository.pendingEntries(BATCH);
      await submitter.submitMany(pending);
      if (Date.now() - lastForget > FORGET_EVERY_MS) {
        const forgotten = await repository.forgetIdempotencyKeys(options.idempotencyTtlMs);
        lastForget = Date.now();
        if (forgotten > 0) log.info({ forgotten }, 'expired idempotency keys deleted');
      }
    } catch (error) {
      log.warn({ err: error }, 'sweep failed; will try again');
    }
  }

  function sweep(): Promise<void> {
    running = running.then(sweepOnce);
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void sweep().then(schedule), options.intervalMs);
  }

  void sweep().then(schedule);
  return {
    sweep,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

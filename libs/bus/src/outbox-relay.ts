import type { EventEnvelope } from '@imm/contracts';
import { type Database, sqlTransaction } from '@imm/db';
import type { Logger } from '@imm/logging';
import type { Bus } from './connection';
import { busMetrics, reportOutboxBacklog } from './metrics';
import { publishEvent } from './publish';
import { interruptibleSleep } from './sleep';

export interface OutboxRelayOptions {
  orm: Database;
  bus: Bus;
  logger: Logger;
  /** How often to look for unpublished events when nobody calls wake(). Default 1000. */
  intervalMs?: number;
  /** Rows per transaction. Default 100. */
  batchSize?: number;
  /**
   * Published rows are deleted once older than this (default 7 days): long enough to audit what
   * went out, short enough that the table does not grow forever.
   */
  retentionMs?: number;
  /**
   * `processed_event` rows (consumer de-duplication) are deleted once older than this (default 7
   * days). A duplicate can only arrive within the stream's duplicate window (2 minutes) or while
   * a relay could not mark a published row (a database outage), so days are plenty.
   */
  processedRetentionMs?: number;
}

export interface RelayStats {
  /** Passes over the outbox since start (each one transaction per batch). */
  passes: number;
  /** Events published since start. */
  published: number;
}

export interface OutboxRelay {
  /**
   * Publish what was just committed now rather than at the next poll. Calls coalesce: while a pass
   * runs, any number of wake-ups make one more pass after it, never a growing chain.
   */
  wake(): void;
  /**
   * Like wake(), and resolves with how many events the pass that covers this call published.
   * Never rejects: what failed stays for the loop.
   */
  flush(): Promise<number>;
  /**
   * Deletes published rows and processed-event marks past their retention now (the loop does it
   * hourly); returns how many rows of both went.
   */
  prune(): Promise<number>;
  stats(): RelayStats;
  /** Ends the loop after the pass in progress. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 5000;
const PRUNE_EVERY_MS = 3_600_000;
const DAY_MS = 24 * 3_600_000;
const DEFAULT_RETENTION_MS = 7 * DAY_MS;

interface PassResult {
  published: number;
  error?: unknown;
}

/**
 * Publishes outbox rows in the order they were inserted (`seq`) until each is acknowledged by
 * JetStream. Rows are claimed with a plain FOR UPDATE (no SKIP LOCKED): a second relay (another
 * replica, or the API and the worker of one service) waits for the first one's batch instead of
 * publishing newer rows past it, so the events of one aggregate go out in the order they were
 * recorded, whichever replicas run. A row published but not yet marked (crash) is published again
 * and dropped as a duplicate by its id.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { orm, bus } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const batchSize = options.batchSize ?? 100;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const processedRetentionMs = options.processedRetentionMs ?? DEFAULT_RETENTION_MS;
  const logger = options.logger.child({ component: 'outbox-relay' });
  const schema = `"${orm.config.get('schema')}"`;
  const table = `${schema}.outbox_message`;
  const pause = interruptibleSleep();
  const stats: RelayStats = { passes: 0, published: 0 };
  let stopped = false;
  // At most one pass runs and at most one waits behind it; every caller meanwhile shares the waiting one.
  let running: Promise<PassResult> | undefined;
  let queued: Promise<PassResult> | undefined;

  /**
   * One batch on raw node-postgres: the claim travels with BEGIN, then the mark and COMMIT (an empty
   * pass, the idle poll's, is two round trips). Each service's relay runs after every commit that
   * recorded events, so MikroORM's transaction (each statement on its own) was on every command's path.
   */
  async function publishBatch(): Promise<PassResult & { full: boolean }> {
    return sqlTransaction(orm, async (tx) => {
      // seq is assigned at insert, which for one aggregate happens under that aggregate's lock.
      const [claimed] = await tx.batch([
        `select id, payload from ${table} where published_at is null
         order by seq limit ${batchSize} for update`,
      ]);
      const rows = (claimed ?? []) as { id: string; payload: EventEnvelope }[];
      const done: string[] = [];
      let error: unknown;
      for (const row of rows) {
        try {
          await publishEvent(bus, row.payload);
          busMetrics.relayLag.observe((Date.now() - Date.parse(row.payload.occurred_at)) / 1000);
          done.push(row.id);
        } catch (e) {
          // Keep the order: nothing after a failed event goes out before it.
          error = e;
          break;
        }
      }
      if (done.length > 0)
        await tx.query(`update ${table} set published_at = now() where id = any($1::uuid[])`, [done]);
      return { published: done.length, error, full: rows.length === batchSize && !error };
    });
  }

  async function pass(): Promise<PassResult> {
    stats.passes += 1;
    let published = 0;
    try {
      for (;;) {
        const batch = await publishBatch();
        published += batch.published;
        stats.published += batch.published;
        if (batch.error) return { published, error: batch.error };
        if (!batch.full) return { published };
      }
    } catch (error) {
      return { published, error };
    }
  }

  /** The pass that will see everything committed before this call: the running one may not. */
  function requestPass(): Promise<PassResult> {
    if (!running) {
      running = pass().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running.then(() => {
      queued = undefined;
      return requestPass();
    });
    return queued;
  }

  async function prune(): Promise<number> {
    const connection = orm.em.fork().getConnection();
    const outbox = await connection.execute<{ affectedRows?: number }>(
      `delete from ${table} where published_at < now() - make_interval(secs => ?)`,
      [retentionMs / 1000],
      'run',
    );
    const processed = await connection.execute<{ affectedRows?: number }>(
      `delete from ${schema}.processed_event where processed_at < now() - make_interval(secs => ?)`,
      [processedRetentionMs / 1000],
      'run',
    );
    return (outbox.affectedRows ?? 0) + (processed.affectedRows ?? 0);
  }

  async function loop(): Promise<void> {
    let backoff = 0;
    let lastPrune = 0;
    while (!stopped) {
      const { published, error } = await requestPass();
      if (error) {
        backoff = Math.min(backoff ? backoff * 2 : 250, MAX_BACKOFF_MS);
        logger.warn({ err: error, published, retryInMs: backoff }, 'outbox publish failed, will retry');
      } else {
        if (backoff) logger.info({ published }, 'outbox publishing recovered');
        backoff = 0;
      }
      if (!error && !stopped && Date.now() - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = Date.now();
        await prune().then(
          (deleted) => deleted > 0 && logger.info({ deleted }, 'published and processed events pruned'),
          (pruneError) => logger.warn({ err: pruneError }, 'outbox prune failed'),
        );
      }
      if (!stopped) await pause.sleep(backoff || intervalMs);
    }
  }

  async function flush(): Promise<number> {
    const { published, error } = await requestPass();
    if (error) logger.debug({ err: error }, 'flush left events for the retry loop');
    return published;
  }

  const looping = loop();
  const unreport = reportOutboxBacklog(orm.config.get('schema') ?? 'public', async () => {
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute<{ backlog: number }[]>(`select count(*)::int as backlog from ${table} where published_at is null`);
    return row?.backlog ?? 0;
  });
  return {
    wake() {
      if (!stopped) void flush();
    },
    flush,
    prune,
    stats: () => ({ ...stats }),
    async stop() {
      stopped = true;
      unreport();
      pause.wake();
      await looping;
      await queued;
      await running;
    },
  };
}

import type { EventEnvelope } from '@imm/contracts';
import type { Database } from '@imm/db';
import type { Logger } from '@imm/logging';
import type { Bus } from './connection';
import { busMetrics, reportOutboxBacklog } from './metrics';
import { publishEvent } from './publish';
import { interruptibleSleep } from './sleep';

export interface OutboxRelayOptions {
  orm: Database;
  bus: Bus;
  logger: Logger;
  /** How often to look for unpublished events when nobody calls flush(). Default 1000. */
  intervalMs?: number;
  /** Rows per transaction. Default 100. */
  batchSize?: number;
  /**
   * Published rows are deleted once older than this (default 7 days): long enough to audit what
   * went out, short enough that the table does not grow forever.
   */
  retentionMs?: number;
}

export interface OutboxRelay {
  /** Ends the loop after the pass in progress. */
  stop(): Promise<void>;
  /** Publishes what is pending now and returns how many went out. Never rejects: what failed stays for the loop. */
  flush(): Promise<number>;
  /** Deletes published rows past the retention now (the loop does it hourly); returns how many. */
  prune(): Promise<number>;
}

const MAX_BACKOFF_MS = 5000;
const PRUNE_EVERY_MS = 3_600_000;
const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;

interface PassResult {
  published: number;
  error?: unknown;
}

/**
 * Publishes outbox rows oldest first until each is acknowledged by JetStream. Rows are claimed
 * with FOR UPDATE SKIP LOCKED, so relays in several replicas never hold the same row; a row
 * published but not yet marked (crash) is published again and dropped as a duplicate by its id.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { orm, bus } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const batchSize = options.batchSize ?? 100;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const logger = options.logger.child({ component: 'outbox-relay' });
  const table = `"${orm.config.get('schema')}".outbox_message`;
  const pause = interruptibleSleep();
  let stopped = false;
  // Passes of one relay run one after another, so flush() counts what it published itself.
  let queue: Promise<unknown> = Promise.resolve();

  async function publishBatch(): Promise<PassResult & { full: boolean }> {
    return orm.em.fork().transactional(async (em) => {
      const rows = await em.execute<{ id: string; payload: EventEnvelope }[]>(
        `select id, payload from ${table} where published_at is null
         order by created_at, seq limit ${batchSize} for update skip locked`,
      );
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
      if (done.length > 0) await em.execute(`update ${table} set published_at = now() where id in (?)`, [done]);
      return { published: done.length, error, full: rows.length === batchSize && !error };
    });
  }

  async function pass(): Promise<PassResult> {
    let published = 0;
    try {
      for (;;) {
        const batch = await publishBatch();
        published += batch.published;
        if (batch.error) return { published, error: batch.error };
        if (!batch.full) return { published };
      }
    } catch (error) {
      return { published, error };
    }
  }

  function enqueuePass(): Promise<PassResult> {
    const result = queue.then(pass);
    queue = result;
    return result;
  }

  async function prune(): Promise<number> {
    const deleted = await orm.em
      .fork()
      .getConnection()
      .execute<{ affectedRows?: number }>(
        `delete from ${table} where published_at < now() - make_interval(secs => ?)`,
        [retentionMs / 1000],
        'run',
      );
    return deleted.affectedRows ?? 0;
  }

  async function loop(): Promise<void> {
    let backoff = 0;
    let lastPrune = 0;
    while (!stopped) {
      const { published, error } = await enqueuePass();
      if (error) {
        backoff = Math.min(backoff ? backoff * 2 : 250, MAX_BACKOFF_MS);
        logger.warn({ err: error, published, retryInMs: backoff }, 'outbox publish failed, will retry');
      } else {
        if (backoff) logger.info({ published }, 'outbox publishing recovered');
        backoff = 0;
      }
      if (!error && !stopped && Date.now() - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = Date.now();
        await prune().catch((pruneError) => logger.warn({ err: pruneError }, 'outbox prune failed'));
      }
      if (!stopped) await pause.sleep(backoff || intervalMs);
    }
  }

  const running = loop();
  const unreport = reportOutboxBacklog(orm.config.get('schema') ?? 'public', async () => {
    const [row] = await orm.em
      .fork()
      .getConnection()
      .execute<{ backlog: number }[]>(`select count(*)::int as backlog from ${table} where published_at is null`);
    return row?.backlog ?? 0;
  });
  return {
    prune,
    async flush() {
      const { published, error } = await enqueuePass();
      if (error) logger.debug({ err: error }, 'flush left events for the retry loop');
      return published;
    },
    async stop() {
      stopped = true;
      unreport();
      pause.wake();
      await running;
      await queue;
    },
  };
}

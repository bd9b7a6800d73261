import type { EventEnvelope } from '@imm/contracts';
import { type Database, Migration, openDatabase } from '@imm/db';
import { createLogger, runWithRequestId } from '@imm/logging';
import { dropTestDatabase, type NatsServerHandle, startNatsServer, testInfrastructure, waitFor } from '@imm/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bus,
  connectBus,
  markProcessed,
  messagingTablesSql,
  OutboxMessage,
  ProcessedEvent,
  recordEvent,
  startConsumer,
  startOutboxRelay,
} from '../src/index';

const logger = createLogger('outbox-test', process.env.TEST_LOG_LEVEL ?? 'silent');

class MessagingTables extends Migration {
  override up(): void {
    for (const sql of messagingTablesSql) this.addSql(sql);
  }
}

const infra = testInfrastructure('outbox');
let orm: Database;
let nats: NatsServerHandle;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [orm, nats] = await Promise.all([
    openDatabase({
      url: infra.DATABASE_URL,
      schema: 'machines',
      entities: [OutboxMessage, ProcessedEvent],
      migrations: [{ name: '0001_messaging', class: MessagingTables }],
      logger,
    }),
    // Our own server: one test takes it down, which the shared one must never be.
    startNatsServer(),
  ]);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await orm.em.fork().nativeDelete(OutboxMessage, {});
  await orm.em.fork().nativeDelete(ProcessedEvent, {});
});

afterAll(async () => {
  await orm.close(true);
  await dropTestDatabase(infra.DATABASE_URL);
  await nats.dispose();
});

async function openBus(name: string, prefix: string): Promise<Bus> {
  const bus = await connectBus({ url: nats.url, prefix, name, logger });
  cleanups.push(() => bus.close());
  return bus;
}

/** Records every delivery (duplicates included) of machine.deleted events. */
function collect(bus: Bus, durable = 'collector'): EventEnvelope[] {
  const seen: EventEnvelope[] = [];
  const consumer = startConsumer(bus, {
    durable,
    types: ['machines.machine.deleted'],
    handle: async (event) => {
      seen.push(event);
    },
  });
  cleanups.push(() => consumer.stop());
  return seen;
}

function record(machineId: number): Promise<EventEnvelope> {
  return orm.em
    .fork()
    .transactional(async (em) => recordEvent(em, 'machines.machine.deleted', { machine_id: machineId, owner_id: 1 }));
}

async function unpublished(): Promise<number> {
  return orm.em.fork().count(OutboxMessage, { publishedAt: null });
}

describe('outbox', () => {
  it('publishes nothing for a rolled-back transaction, and a committed event exactly once', async () => {
    const bus = await openBus('relay', testInfrastructure('outbox').BUS_PREFIX);
    const seen = collect(bus);
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 60_000 });
    cleanups.push(() => relay.stop());

    const rollback = orm.em.fork().transactional(async (em) => {
      recordEvent(em, 'machines.machine.deleted', { machine_id: 1, owner_id: 1 });
      throw new Error('change refused');
    });
    await expect(rollback).rejects.toThrow('change refused');
    expect(await orm.em.fork().count(OutboxMessage)).toBe(0);

    const envelope = await runWithRequestId('req-outbox', () => record(2));
    expect(envelope.request_id).toBe('req-outbox');
    expect(await relay.flush()).toBe(1);
    expect(await relay.flush()).toBe(0);
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toEqual(envelope);
    expect(await unpublished()).toBe(0); // flush() returned after the commit
  });

  it('deletes published rows past their retention, and never an unpublished one', async () => {
    const bus = await openBus('prune', testInfrastructure('outbox').BUS_PREFIX);
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 60_000, retentionMs: 1000 });
    cleanups.push(() => relay.stop());
    await record(1);
    await relay.flush(); // the relay's own first pass may have taken it already
    expect(await unpublished()).toBe(0);
    await record(2); // stays unpublished: the relay sleeps a minute after its first pass
    await orm.em
      .fork()
      .getConnection()
      .execute(
        `update "machines".outbox_message set created_at = now() - interval '1 day',
         published_at = case when published_at is null then null else now() - interval '1 day' end`,
      );
    expect(await relay.prune()).toBe(1);
    expect(await orm.em.fork().count(OutboxMessage)).toBe(1);
    expect(await unpublished()).toBe(1);
  });

  it('rejects an event whose payload breaks the contract, rolling the change back', async () => {
    const attempt = orm.em.fork().transactional(async (em) => {
      recordEvent(em, 'machines.machine.deleted', { machine_id: 'x' } as never);
    });
    await expect(attempt).rejects.toThrow();
    expect(await orm.em.fork().count(OutboxMessage)).toBe(0);
  });

  it('publishes an event recorded while NATS was down once NATS is back', async () => {
    const bus = await openBus('relay', testInfrastructure('outbox').BUS_PREFIX);
    const seen = collect(bus);
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 200 });
    cleanups.push(() => relay.stop());
    const before = await record(10);
    await waitFor(() => seen.length === 1);

    await nats.stop();
    const during = await record(11);
    expect(await relay.flush()).toBe(0); // fails fast; the row stays for the loop
    expect(await unpublished()).toBe(1);

    await nats.start();
    await waitFor(() => seen.length >= 2, { timeoutMs: 30_000 });
    // Delivery can beat the relay's commit of published_at by a moment.
    await waitFor(async () => (await unpublished()) === 0);
    // Give a duplicate, if any, the time to show up behind a marker event.
    const marker = await record(12);
    await waitFor(() => seen.some((e) => e.id === marker.id), { timeoutMs: 30_000 });
    // Delivery is at least once: an ack lost when the server stopped brings `before` again (the
    // consumers' markProcessed absorbs that). What the relay owes is every event, in order.
    expect([...new Set(seen.map((e) => e.id))]).toEqual([before.id, during.id, marker.id]);
    expect(seen.filter((e) => e.id === during.id)).toHaveLength(1);
  });

  it('never lets two relays publish the same row', async () => {
    const prefix = testInfrastructure('outbox').BUS_PREFIX;
    const [first, second] = [await openBus('relay-1', prefix), await openBus('relay-2', prefix)];
    const publishes: string[] = [];
    // Count what each relay hands to JetStream: JetStream would hide a double send by msg id.
    for (const bus of [first, second]) {
      const publish = bus.js.publish.bind(bus.js);
      bus.js.publish = async (subject, data, options) => {
        publishes.push(options?.msgID ?? '?');
        return publish(subject, data, options);
      };
    }
    const seen = collect(first);
    const recorded = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const envelopes = await orm.em
        .fork()
        .transactional(async (em) =>
          Array.from({ length: 15 }, (_, j) =>
            recordEvent(em, 'machines.machine.deleted', { machine_id: i * 100 + j, owner_id: 1 }),
          ),
        );
      for (const e of envelopes) recorded.add(e.id);
    }
    const relays = [first, second].map((bus) => startOutboxRelay({ orm, bus, logger, intervalMs: 20, batchSize: 7 }));
    cleanups.push(() => Promise.all(relays.map((r) => r.stop())));
    await Promise.all([relays[0]!.flush(), relays[1]!.flush(), relays[0]!.flush(), relays[1]!.flush()]);

    await waitFor(async () => (await unpublished()) === 0);
    await waitFor(() => seen.length >= recorded.size);
    expect(publishes.length).toBe(recorded.size);
    expect(new Set(publishes)).toEqual(recorded);
    expect(seen.map((e) => e.id).sort()).toEqual([...recorded].sort());
  });
});

describe('outbox order and wake-ups', () => {
  it('publishes the events of one aggregate in the order they were recorded, while another relay holds older rows', async () => {
    const bus = await openBus('order', testInfrastructure('outbox').BUS_PREFIX);
    const seen = collect(bus, 'order');
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 60_000 });
    cleanups.push(() => relay.stop());
    await relay.flush(); // the relay's first pass is over; it now sleeps a minute
    const first = await record(21); // e.g. "operation requested"
    const second = await record(21); // e.g. "operation completed", recorded after it
    // Another replica's relay is in the middle of a batch that holds the first row.
    const other = await orm.em.fork().getConnection().getKnex().transaction();
    try {
      await other.raw('select id from "machines".outbox_message where id = ? for update', [first.id]);
      const flushed = relay.flush();
      // Long enough for a relay that skips locked rows to have published the second one.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(seen.map((e) => e.id)).toEqual([]);
      await other.commit();
      await flushed;
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    await waitFor(() => seen.length >= 2);
    expect(seen.map((e) => e.id)).toEqual([first.id, second.id]);
  });

  it('coalesces wake-ups while a pass waits for slow acknowledgements: no growing chain of passes', async () => {
    const bus = await openBus('coalesce', testInfrastructure('outbox').BUS_PREFIX);
    const seen = collect(bus, 'coalesce');
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 60_000 });
    cleanups.push(() => relay.stop());
    await relay.flush();
    const before = relay.stats().passes;
    await record(31);
    // NATS takes the message but does not answer: every publish waits for its acknowledgement.
    await nats.pause();
    let flushes: Promise<number>[] = [];
    try {
      relay.wake();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // A service commits events all the while (every sign-up, every machine change wakes the relay).
      for (let i = 0; i < 2000; i++) relay.wake();
      flushes = Array.from({ length: 50 }, () => relay.flush());
    } finally {
      await nats.resume();
    }
    await Promise.all(flushes);
    await waitFor(() => seen.length >= 1, { timeoutMs: 30_000 });
    // The pass that was waiting, at most one behind it, and perhaps the poll: not one per wake-up.
    expect(relay.stats().passes - before).toBeLessThanOrEqual(3);
  });
});

describe('processed_event pruning', () => {
  it('deletes de-duplication marks older than their retention and keeps recent ones', async () => {
    const bus = await openBus('prune-processed', testInfrastructure('outbox').BUS_PREFIX);
    const relay = startOutboxRelay({ orm, bus, logger, intervalMs: 60_000, processedRetentionMs: 3_600_000 });
    cleanups.push(() => relay.stop());
    const old = crypto.randomUUID();
    const recent = crypto.randomUUID();
    await orm.em.fork().transactional(async (em) => {
      await markProcessed(em, 'c1', old);
      await markProcessed(em, 'c1', recent);
    });
    await orm.em
      .fork()
      .getConnection()
      .execute(`update "machines".processed_event set processed_at = now() - interval '2 hours' where event_id = ?`, [
        old,
      ]);
    await relay.prune(); // the relay's loop may prune at start as well: the rows left tell
    const left = await orm.em.fork().find(ProcessedEvent, {});
    expect(left.map((row) => row.eventId)).toEqual([recent]);
  });
});

describe('markProcessed', () => {
  it('is true the first time a consumer handles an event and false after, within committed transactions', async () => {
    const eventId = crypto.randomUUID();
    const rolledBack = orm.em.fork().transactional(async (em) => {
      expect(await markProcessed(em, 'c1', eventId)).toBe(true);
      throw new Error('handler failed');
    });
    await expect(rolledBack).rejects.toThrow('handler failed');
    expect(await orm.em.fork().transactional((em) => markProcessed(em, 'c1', eventId))).toBe(true);
    expect(await orm.em.fork().transactional((em) => markProcessed(em, 'c1', eventId))).toBe(false);
    expect(await orm.em.fork().transactional((em) => markProcessed(em, 'c2', eventId))).toBe(true);
  });
});

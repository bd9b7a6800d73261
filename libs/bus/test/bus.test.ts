import type { EventEnvelope } from '@imm/contracts';
import { createLogger, currentRequestId, runWithRequestId } from '@imm/logging';
import { testInfrastructure, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bus,
  BusRequestError,
  BusUnavailableError,
  connectBus,
  createEnvelope,
  deadLetterStreamName,
  deadLetterSubject,
  listDeadLetters,
  publishEvent,
  RejectedEventError,
  replayDeadLetters,
  request,
  serveRequests,
  startConsumer,
  subjectOf,
} from '../src/index';

const logger = createLogger('bus-test', process.env.TEST_LOG_LEVEL ?? 'silent');
let bus: Bus;
const stops: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  bus = await connectBus({
    url: 'nats://127.0.0.1:4222',
    prefix: testInfrastructure('bus').BUS_PREFIX,
    name: 'bus-test',
    logger,
  });
});

afterAll(async () => {
  await Promise.all(stops.map((s) => s.stop()));
  // Streams are per-prefix; remove them so the shared server does not collect test data.
  for await (const stream of bus.jsm.streams.list()) {
    if (stream.config.name.startsWith(bus.prefix.toUpperCase())) await bus.jsm.streams.delete(stream.config.name);
  }
  await bus.close();
});

function track<T extends { stop(): Promise<void> }>(running: T): T {
  stops.push(running);
  return running;
}

const machineDeleted = (machineId: number) =>
  createEnvelope('machines.machine.deleted', { machine_id: machineId, owner_id: 7 });

async function deadLetters(durable: string): Promise<{ data: string; reason: string | undefined }[]> {
  const found: { data: string; reason: string | undefined }[] = [];
  const info = await bus.jsm.streams.info(deadLetterStreamName(bus.prefix));
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await bus.jsm.streams.getMessage(deadLetterStreamName(bus.prefix), { seq }).catch(() => null);
    if (msg && msg.subject === deadLetterSubject(bus.prefix, durable)) {
      found.push({ data: new TextDecoder().decode(msg.data), reason: msg.header.get('x-dead-reason') });
    }
  }
  return found;
}

describe('events', () => {
  it('delivers a published event to a durable consumer, with its request id', async () => {
    const received: { event: EventEnvelope; requestId: string | undefined }[] = [];
    track(
      startConsumer(bus, {
        durable: 'roundtrip',
        types: ['machines.machine.deleted'],
        handle: async (event) => {
          received.push({ event, requestId: currentRequestId() });
        },
      }),
    );
    const envelope = runWithRequestId('req-roundtrip', () => machineDeleted(1));
    await publishEvent(bus, envelope);
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual({ event: envelope, requestId: 'req-roundtrip' });
  });

  it('stores a re-published event (same id) once', async () => {
    const received: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'dedupe',
        types: ['machines.machine.created'],
        handle: async (event) => {
          received.push(event.id);
        },
      }),
    );
    const machine = {
      id: 3,
      name: 'press',
      location: 'hall 1',
      status: 2 as const,
      owner_id: 7,
      endpoint: null,
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    };
    const first = createEnvelope('machines.machine.created', { machine });
    const marker = createEnvelope('machines.machine.created', { machine });
    await publishEvent(bus, first);
    await publishEvent(bus, first);
    await publishEvent(bus, marker);
    await waitFor(() => received.includes(marker.id));
    expect(received).toEqual([first.id, marker.id]);
  });

  it('retries a failing handler with backoff and acknowledges once it succeeds', async () => {
    let calls = 0;
    const handled: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'flaky',
        types: ['auth.user.registered'],
        retryDelayMs: 20,
        handle: async (event) => {
          calls += 1;
          if (calls < 3) throw new Error('database busy');
          handled.push(event.id);
        },
      }),
    );
    const envelope = createEnvelope('auth.user.registered', {
      user_id: 1,
      username: 'ann',
      email: 'ann@example.com',
      is_superuser: false,
    });
    await publishEvent(bus, envelope);
    await waitFor(() => handled.length === 1);
    expect(calls).toBe(3);
    const stream = `${bus.prefix.toUpperCase()}_AUTH`;
    await waitFor(async () => (await bus.jsm.consumers.info(stream, 'flaky')).num_ack_pending === 0);
  });

  it('moves an event to dead letter after maxDeliver failed attempts', async () => {
    let calls = 0;
    track(
      startConsumer(bus, {
        durable: 'always-fails',
        types: ['machines.machine.status_changed'],
        maxDeliver: 3,
        retryDelayMs: 20,
        handle: async () => {
          calls += 1;
          throw new Error('boom');
        },
      }),
    );
    const envelope = createEnvelope('machines.machine.status_changed', {
      machine_id: 1,
      old_status: 2,
      new_status: 4,
      cause: 'api',
      operation_id: null,
    });
    await publishEvent(bus, envelope);
    const dead = await waitFor(async () => {
      const found = await deadLetters('always-fails');
      return found.length > 0 ? found : undefined;
    });
    expect(calls).toBe(3);
    expect(JSON.parse(dead[0]!.data)).toEqual(envelope);
    expect(dead[0]!.reason).toContain('boom');
  });

  it('retries a handler that keeps failing (its database is away) without limit, and never dead-letters the event', async () => {
    let calls = 0;
    const handled: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'database-away',
        types: ['machines.machine.updated'],
        retryDelayMs: 5,
        maxRetryDelayMs: 50,
        handle: async (event) => {
          calls += 1;
          // Far more failures than the old limit of 10 deliveries.
          if (calls <= 14) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          handled.push(event.id);
        },
      }),
    );
    const envelope = createEnvelope('machines.machine.updated', {
      machine: {
        id: 1,
        name: 'press',
        location: 'hall',
        status: 2,
        owner_id: 7,
        endpoint: null,
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      },
    });
    await publishEvent(bus, envelope);
    await waitFor(() => handled.length === 1, { timeoutMs: 60_000 });
    expect(handled).toEqual([envelope.id]);
    expect(calls).toBe(15);
    expect(await deadLetters('database-away')).toEqual([]);
  });

  it('dead-letters an event its handler rejects, and replays it once the handler can apply it', async () => {
    let accept = false;
    const handled: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'replayed',
        types: ['machines.machine.deleted'],
        retryDelayMs: 20,
        handle: async (event) => {
          if (!accept) throw new RejectedEventError('machine 5 belongs to no known owner');
          handled.push(event.id);
        },
      }),
    );
    const envelope = machineDeleted(5);
    await publishEvent(bus, envelope);
    // Earlier tests' machine.deleted events reach this consumer too; only this one is ours.
    const ours = async () => (await listDeadLetters(bus, 'replayed')).filter((l) => l.eventId === envelope.id);
    const letters = await waitFor(async () => {
      const found = await ours();
      return found.length > 0 ? found : undefined;
    });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ consumer: 'replayed', eventId: envelope.id, deliveries: 1 });
    expect(letters[0]?.reason).toContain('machine 5 belongs to no known owner');
    expect(handled).toEqual([]);

    accept = true; // the cause is fixed
    expect(await replayDeadLetters(bus, letters)).toBe(1);
    await waitFor(() => handled.length === 1);
    expect(handled).toEqual([envelope.id]);
    expect(await ours()).toEqual([]);
  });

  it('sends a payload that breaks the contract straight to dead letter', async () => {
    const handled: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'strict',
        types: ['operations.operation.requested'],
        handle: async (event) => {
          handled.push(event.id);
        },
      }),
    );
    const bad = { ...createEnvelope('machines.machine.deleted', { machine_id: 1, owner_id: 1 }) };
    await bus.js.publish(
      subjectOf(bus.prefix, 'operations.operation.requested'),
      JSON.stringify({ ...bad, type: 'operations.operation.requested' }),
    );
    const dead = await waitFor(async () => {
      const found = await deadLetters('strict');
      return found.length > 0 ? found : undefined;
    });
    expect(dead[0]!.reason).toContain('invalid operations.operation.requested payload');
    expect(handled).toEqual([]);
  });

  it('lets one consumer receive several types of one stream, and only those', async () => {
    const received: string[] = [];
    track(
      startConsumer(bus, {
        durable: 'operations-all',
        types: ['operations.operation.requested', 'operations.operation.completed'],
        handle: async (event) => {
          received.push(event.type);
        },
      }),
    );
    const requested = {
      operation_id: 1,
      machine_id: 2,
      machine_owner_id: 3,
      command: 'START' as const,
      worker: 3,
      request_datetime: new Date().toISOString(),
    };
    await publishEvent(bus, createEnvelope('operations.operation.requested', requested));
    await publishEvent(
      bus,
      createEnvelope('operations.operation.completed', {
        ...requested,
        result: 1,
        message: null,
        finished_at: new Date().toISOString(),
      }),
    );
    await waitFor(() => received.length >= 2);
    // The earlier test's contract-breaking message shares this stream; it is not a wanted type's
    // valid payload, so it goes to this consumer's dead letter, not to the handler.
    expect(received.sort()).toEqual(['operations.operation.completed', 'operations.operation.requested']);
  });

  it('declares its durable consumer again when it disappears from the server', async () => {
    const received: number[] = [];
    track(
      startConsumer(bus, {
        durable: 'comes-back',
        types: ['machines.machine.deleted'],
        handle: async (event) => {
          received.push(event.data.machine_id);
        },
      }),
    );
    await publishEvent(bus, machineDeleted(501));
    await waitFor(() => received.includes(501));
    const stream = `${bus.prefix.toUpperCase()}_MACHINES`;
    await bus.jsm.consumers.delete(stream, 'comes-back');
    await publishEvent(bus, machineDeleted(502));
    await waitFor(() => received.includes(502));
    await waitFor(async () => (await bus.jsm.consumers.info(stream, 'comes-back')).num_ack_pending === 0);
  });

  it('refuses a consumer spanning two streams', () => {
    expect(() =>
      startConsumer(bus, {
        durable: 'mixed',
        types: ['auth.user.registered', 'machines.machine.deleted'],
        handle: async () => {},
      }),
    ).toThrow(/one service/);
  });
});

describe('request/reply', () => {
  it('answers a request through the contract, carrying the request id', async () => {
    let seenRequestId: string | undefined;
    track(
      serveRequests(bus, 'machines.machine.get', async ({ machine_id }) => {
        seenRequestId = currentRequestId();
        if (machine_id === 13) throw new Error('unlucky');
        if (machine_id === 404) return { found: false };
        return {
          found: true,
          machine: { id: machine_id, owner_id: 5, status: 2, endpoint: null, last_operation_id: null },
        };
      }),
    );
    const reply = await runWithRequestId('req-get', () => request(bus, 'machines.machine.get', { machine_id: 9 }));
    expect(reply).toEqual({
      found: true,
      machine: { id: 9, owner_id: 5, status: 2, endpoint: null, last_operation_id: null },
    });
    expect(seenRequestId).toBe('req-get');
    expect(await request(bus, 'machines.machine.get', { machine_id: 404 })).toEqual({ found: false });
    await expect(request(bus, 'machines.machine.get', { machine_id: 13 })).rejects.toBeInstanceOf(BusRequestError);
  });

  it('reports a missing responder as unavailable', async () => {
    const other = await connectBus({
      url: 'nats://127.0.0.1:4222',
      prefix: testInfrastructure('bus_none').BUS_PREFIX,
      name: 'bus-test-none',
      logger,
    });
    try {
      await expect(request(other, 'machines.machine.get', { machine_id: 1 }, 1000)).rejects.toBeInstanceOf(
        BusUnavailableError,
      );
    } finally {
      for await (const stream of other.jsm.streams.list()) {
        if (stream.config.name.startsWith(other.prefix.toUpperCase()))
          await other.jsm.streams.delete(stream.config.name);
      }
      await other.close();
    }
  });
});

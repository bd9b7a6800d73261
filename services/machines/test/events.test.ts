import { createEnvelope, publishEvent, request, subjectOf } from '@imm/bus';
import type { EventData, EventEnvelope } from '@imm/contracts';
import { runWithRequestId } from '@imm/logging';
import { waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_COMPLETED_CONSUMER } from '../src/entry/events/operation-completed';
import { call, type Harness, type Json, startHarness, type TestUser } from './harness';

let h: Harness;
const owner: TestUser = { id: 31, username: 'owner' };
let token: string;

beforeAll(async () => {
  h = await startHarness('machines_events');
  token = h.issuer.token(owner);
});
afterAll(async () => {
  await h?.close();
});

async function newMachine(body: Json = {}): Promise<Json> {
  const res = await call(h.base, 'POST', '/api/machines/', {
    token,
    body: { name: 'press', location: 'hall', ...body },
  });
  expect(res.status).toBe(201);
  return res.body.result;
}

/** Events recorded after `mark` (an outbox length taken earlier). */
async function eventsSince(mark: number): Promise<EventEnvelope<Json>[]> {
  return (await h.outbox()).slice(mark);
}
const outboxSize = async () => (await h.outbox()).length;

/** Waits until the relay has published every recorded event; returns what NATS holds. */
async function allPublished(): Promise<EventEnvelope<Json>[]> {
  return waitFor(async () => {
    const pending = await h.sql('select 1 from machines.outbox_message where published_at is null');
    if (pending.length > 0) return false;
    return h.published();
  });
}

describe('published events', () => {
  it('create → exactly one machines.machine.created with the machine as the API shows it', async () => {
    const mark = await outboxSize();
    const machine = await newMachine({ endpoint: 'sim://p1', status: 3 });
    const events = await eventsSince(mark);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'machines.machine.created', data: { machine } });
    expect(events[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the request id of the request that caused it', async () => {
    const mark = await outboxSize();
    await call(h.base, 'POST', '/api/machines/', {
      token,
      body: { name: 'traced', location: 'x' },
      headers: { 'x-request-id': 'trace-me-123' },
    });
    expect((await eventsSince(mark))[0]?.request_id).toBe('trace-me-123');
  });

  it('an update without a status change → one machines.machine.updated', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { name: 'renamed' } });
    const events = await eventsSince(mark);
    expect(events.map((e) => e.type)).toEqual(['machines.machine.updated']);
    expect(events[0]?.data).toEqual({ machine: res.body.result });
  });

  it('an update that changes the status → one updated and one status_changed (cause api)', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    const res = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, {
      token,
      body: { name: 'press', location: 'hall', status: 1 },
    });
    const events = await eventsSince(mark);
    expect(events.map((e) => e.type)).toEqual(['machines.machine.updated', 'machines.machine.status_changed']);
    expect(events[0]?.data).toEqual({ machine: res.body.result });
    expect(events[1]?.data).toEqual({
      machine_id: machine.id,
      old_status: 2,
      new_status: 1,
      cause: 'api',
      operation_id: null,
    });
  });

  it('an update that changes nothing (same values) → no event', async () => {
    const machine = await newMachine({ status: 4 });
    const mark = await outboxSize();
    const res = await call(h.base, 'PUT', `/api/machines/${machine.id}/`, {
      token,
      body: { name: 'press', location: 'hall', status: 4 },
    });
    expect(res.status).toBe(200);
    expect(res.body.result.updated_at).toBe(machine.updated_at);
    expect(await eventsSince(mark)).toEqual([]);
  });

  it('concurrent status changes publish a consistent chain (each old_status is the previous new_status)', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    const statuses = [1, 3, 4, 5, 1, 3, 4, 5];
    const results = await Promise.all(
      statuses.map((status) => call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { status } })),
    );
    expect(results.map((r) => r.status)).toEqual(statuses.map(() => 200));
    const changes = (await eventsSince(mark))
      .filter((e) => e.type === 'machines.machine.status_changed')
      .map((e) => e.data);
    let previous = 2;
    for (const change of changes) {
      expect(change.old_status).toBe(previous);
      expect(change.new_status).not.toBe(previous);
      previous = change.new_status;
    }
    const final = await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token });
    expect(final.body.result.status).toBe(previous);
  });

  it('delete → one machines.machine.deleted with id and owner', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    expect((await call(h.base, 'DELETE', `/api/machines/${machine.id}/`, { token })).status).toBe(204);
    const events = await eventsSince(mark);
    expect(events.map((e) => e.type)).toEqual(['machines.machine.deleted']);
    expect(events[0]?.data).toEqual({ machine_id: machine.id, owner_id: owner.id });
  });

  it('the relay publishes each recorded event to NATS exactly once, in order', async () => {
    await newMachine();
    const recorded = await h.outbox();
    const published = await allPublished();
    expect(published.map((e) => e.id)).toEqual(recorded.map((e) => e.id));
    expect(published).toEqual(recorded);
  });
});

describe('a rolled-back change', () => {
  it('publishes nothing and changes nothing', async () => {
    const machine = await newMachine();
    // A trigger that fails the statement after the service recorded its events in the same transaction.
    await h.sql(`create function machines.refuse_update() returns trigger language plpgsql as $$
      begin if new.name = 'explode' then raise exception 'refused by test'; end if; return new; end $$`);
    await h.sql(
      'create trigger refuse_update before update on machines.machine for each row execute function machines.refuse_update()',
    );
    try {
      const mark = await outboxSize();
      const res = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, {
        token,
        body: { name: 'explode', status: 5 },
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ status: 0, message: 'A server error occurred.', error_code: 0 });
      expect(await eventsSince(mark)).toEqual([]);
      expect((await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token })).body.result).toEqual(machine);
    } finally {
      await h.sql('drop trigger refuse_update on machines.machine');
      await h.sql('drop function machines.refuse_update()');
    }
  });

  it('an event that cannot be recorded undoes the change it describes, and a consumed event stays unhandled', async () => {
    const machine = await newMachine();
    const total = async () =>
      (
        await h.sql<Json>(
          'select (select count(*) from machines.machine)::int as rows, sum(n)::int as counted from machines.machine_count',
        )
      )[0];
    const before = await total();
    const mark = await outboxSize();
    // The change and its events go to Postgres together: here the outbox refuses every row.
    await h.sql(`create function machines.refuse_event() returns trigger language plpgsql as $$
      begin raise exception 'refused by test'; end $$`);
    await h.sql(
      'create trigger refuse_event before insert on machines.outbox_message for each row execute function machines.refuse_event()',
    );
    const eventId = crypto.randomUUID();
    try {
      const created = await call(h.base, 'POST', '/api/machines/', { token, body: { name: 'lost', location: 'x' } });
      expect(created.status).toBe(500);
      const patched = await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { status: 5 } });
      expect(patched.status).toBe(500);
      expect((await call(h.base, 'DELETE', `/api/machines/${machine.id}/`, { token })).status).toBe(500);
      const completion = {
        eventId,
        consumer: OPERATION_COMPLETED_CONSUMER,
        operationId: 70_001,
        machineId: machine.id,
        command: 'START',
        result: 1,
      } as const;
      await expect(h.machines.service.applyOperationResult(completion)).rejects.toThrow('refused by test');
    } finally {
      await h.sql('drop trigger refuse_event on machines.outbox_message');
      await h.sql('drop function machines.refuse_event()');
    }
    expect(await total()).toEqual(before);
    expect((await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token })).body.result).toEqual(machine);
    expect(await h.sql('select 1 from machines.processed_event where event_id = $1', [eventId])).toEqual([]);
    expect(await eventsSince(mark)).toEqual([]);
  });
});

describe('operations.operation.completed', () => {
  let nextOperationId = 1000;
  function completion(
    machine: Json,
    command: 'START' | 'STOP',
    result: EventData<'operations.operation.completed'>['result'],
    operationId = nextOperationId++,
  ) {
    const now = new Date().toISOString();
    return createEnvelope('operations.operation.completed', {
      operation_id: operationId,
      machine_id: machine.id,
      machine_owner_id: machine.owner_id,
      command,
      worker: owner.id,
      request_datetime: now,
      result,
      message: null,
      finished_at: now,
    });
  }

  const processed = (eventId: string) =>
    h.sql('select 1 from machines.processed_event where consumer = $1 and event_id = $2', [
      OPERATION_COMPLETED_CONSUMER,
      eventId,
    ]);
  async function deliver(envelope: EventEnvelope, msgId = envelope.id): Promise<void> {
    // Our own message id, so a test can deliver one event twice past JetStream's de-duplication.
    await h.bus.js.publish(subjectOf(h.bus.prefix, 'operations.operation.completed'), JSON.stringify(envelope), {
      msgID: msgId,
    });
    await waitFor(async () => (await processed(envelope.id)).length === 1);
  }
  const machineRow = async (id: number) =>
    (
      await h.sql<Json>(
        'select status, last_operation_id::int as last, updated_at from machines.machine where id = $1',
        [id],
      )
    )[0];

  it('SUCCESS of START → RUNNING, with updated and status_changed (cause operation)', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    const event = runWithRequestId('op-trace-1', () => completion(machine, 'START', 1));
    await publishEvent(h.bus, event);
    await waitFor(async () => (await processed(event.id)).length === 1);
    expect(await machineRow(machine.id)).toMatchObject({ status: 4, last: event.data.operation_id });
    const events = await eventsSince(mark);
    expect(events.map((e) => e.type)).toEqual(['machines.machine.updated', 'machines.machine.status_changed']);
    expect(events[0]?.data.machine).toMatchObject({ id: machine.id, status: 4 });
    expect(events[1]?.data).toEqual({
      machine_id: machine.id,
      old_status: 2,
      new_status: 4,
      cause: 'operation',
      operation_id: event.data.operation_id,
    });
    // The consumer's events carry the completion's request id onwards.
    expect(events.map((e) => e.request_id)).toEqual(['op-trace-1', 'op-trace-1']);
    const got = await call(h.base, 'GET', `/api/machines/${machine.id}/`, { token });
    expect(got.body.result.status).toBe(4);
  });

  it('SUCCESS of STOP → READY; REMOTEFAILED → ERROR', async () => {
    const machine = await newMachine({ status: 4 });
    await deliver(completion(machine, 'STOP', 1));
    expect((await machineRow(machine.id)).status).toBe(2);
    await deliver(completion(machine, 'START', 2));
    expect((await machineRow(machine.id)).status).toBe(5);
  });

  it.each([
    [3, 'INTERNALFAILED'],
    [4, 'PENDING'],
    [5, 'PERMISSIONDENIED'],
    [7, 'INVALIDCOMMAND'],
  ] as const)('result %i (%s) changes nothing and publishes nothing', async (result, _name) => {
    const machine = await newMachine({ status: 3 });
    const before = await machineRow(machine.id);
    const mark = await outboxSize();
    await deliver(completion(machine, 'START', result));
    expect(await machineRow(machine.id)).toEqual(before);
    expect(await eventsSince(mark)).toEqual([]);
  });

  it('a result that confirms the current status records the operation but publishes nothing', async () => {
    const machine = await newMachine({ status: 4 });
    const mark = await outboxSize();
    const event = completion(machine, 'START', 1);
    await deliver(event);
    expect(await machineRow(machine.id)).toMatchObject({ status: 4, last: event.data.operation_id });
    expect(await eventsSince(mark)).toEqual([]);
  });

  it('delivered twice, applied once', async () => {
    const machine = await newMachine();
    const mark = await outboxSize();
    const event = completion(machine, 'START', 1);
    await deliver(event, `${event.id}-first`);
    expect((await eventsSince(mark)).map((e) => e.type)).toEqual([
      'machines.machine.updated',
      'machines.machine.status_changed',
    ]);
    // Someone moves it by hand; a redelivery of the old completion must not move it back.
    await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { status: 3 } });
    const afterManual = await outboxSize();
    await h.bus.js.publish(subjectOf(h.bus.prefix, 'operations.operation.completed'), JSON.stringify(event), {
      msgID: `${event.id}-second`,
    });
    // The durable consumer handles events in order: once a later one is processed, so was the copy.
    await deliver(completion(machine, 'STOP', 3));
    expect((await machineRow(machine.id)).status).toBe(3);
    expect(await eventsSince(afterManual)).toEqual([]);
    expect(await processed(event.id)).toHaveLength(1);
  });

  it('an older command’s result after a newer one does not regress the status', async () => {
    const machine = await newMachine();
    await deliver(completion(machine, 'START', 1, 50_010));
    expect(await machineRow(machine.id)).toMatchObject({ status: 4, last: 50_010 });
    const mark = await outboxSize();
    await deliver(completion(machine, 'STOP', 2, 50_009));
    await deliver(completion(machine, 'STOP', 1, 50_010)); // same id again (a different event)
    expect(await machineRow(machine.id)).toMatchObject({ status: 4, last: 50_010 });
    expect(await eventsSince(mark)).toEqual([]);
    await deliver(completion(machine, 'STOP', 1, 50_011));
    expect(await machineRow(machine.id)).toMatchObject({ status: 2, last: 50_011 });
  });

  it('a refusal with a newer id does not block the result of the command still running', async () => {
    const machine = await newMachine();
    await deliver(completion(machine, 'STOP', 7, 60_002)); // refused while 60_001 was pending
    await deliver(completion(machine, 'START', 1, 60_001));
    expect(await machineRow(machine.id)).toMatchObject({ status: 4, last: 60_001 });
  });

  it('ignores the result for a deleted machine', async () => {
    const machine = await newMachine();
    await call(h.base, 'DELETE', `/api/machines/${machine.id}/`, { token });
    const mark = await outboxSize();
    await deliver(completion(machine, 'START', 1));
    expect(await eventsSince(mark)).toEqual([]);
    expect(await machineRow(machine.id)).toBeUndefined();
  });

  it('ignores the result for a machine id no machine can have', async () => {
    const mark = await outboxSize();
    await deliver(completion({ id: 99_999_999_999, owner_id: owner.id }, 'START', 1));
    expect(await eventsSince(mark)).toEqual([]);
  });

  it('retries a result whose transaction failed, and applies it once the failure is gone', async () => {
    const machine = await newMachine();
    // The sequence counts attempts: nextval survives the rollback that the exception causes.
    await h.sql('create sequence machines.refused_attempts');
    await h.sql(`create function machines.refuse_running() returns trigger language plpgsql as $$
      begin
        if new.status = 4 then perform nextval('machines.refused_attempts'); raise exception 'refused by test'; end if;
        return new;
      end $$`);
    await h.sql(
      'create trigger refuse_running before update on machines.machine for each row execute function machines.refuse_running()',
    );
    const event = completion(machine, 'START', 1);
    const mark = await outboxSize();
    try {
      await publishEvent(h.bus, event);
      await waitFor(async () => (await h.sql<Json>('select is_called from machines.refused_attempts'))[0]?.is_called);
      // The handler failed: nothing is marked processed and no event is recorded.
      expect(await processed(event.id)).toHaveLength(0);
      expect(await eventsSince(mark)).toEqual([]);
    } finally {
      await h.sql('drop trigger refuse_running on machines.machine');
      await h.sql('drop function machines.refuse_running()');
      await h.sql('drop sequence machines.refused_attempts');
    }
    await waitFor(async () => (await processed(event.id)).length === 1);
    expect((await machineRow(machine.id)).status).toBe(4);
    expect((await eventsSince(mark)).map((e) => e.type)).toEqual([
      'machines.machine.updated',
      'machines.machine.status_changed',
    ]);
  });
});

describe('machines.machine.get', () => {
  it('answers for a machine created a moment ago', async () => {
    const machine = await newMachine({ endpoint: 'http://10.1.2.3/cmd', status: 3 });
    const reply = await request(h.bus, 'machines.machine.get', { machine_id: machine.id });
    expect(reply).toEqual({
      found: true,
      machine: {
        id: machine.id,
        owner_id: owner.id,
        status: 3,
        endpoint: 'http://10.1.2.3/cmd',
        last_operation_id: null,
      },
    });
  });

  it('reflects a change at once, including the last applied operation', async () => {
    const machine = await newMachine();
    await call(h.base, 'PATCH', `/api/machines/${machine.id}/`, { token, body: { status: 1 } });
    expect(await request(h.bus, 'machines.machine.get', { machine_id: machine.id })).toMatchObject({
      found: true,
      machine: { status: 1, last_operation_id: null },
    });
  });

  it.each([987_654, 0, -5, 99_999_999_999])('answers found: false for %i', async (id) => {
    expect(await request(h.bus, 'machines.machine.get', { machine_id: id })).toEqual({ found: false });
  });

  it('answers found: false once the machine is deleted', async () => {
    const machine = await newMachine();
    await call(h.base, 'DELETE', `/api/machines/${machine.id}/`, { token });
    expect(await request(h.bus, 'machines.machine.get', { machine_id: machine.id })).toEqual({ found: false });
  });
});

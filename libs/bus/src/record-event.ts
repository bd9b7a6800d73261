import { randomUUID } from 'node:crypto';
import { type EventData, type EventEnvelope, type EventType, events } from '@imm/contracts';
import type { EntityManager } from '@imm/db';
import { currentRequestId } from '@imm/logging';
import { currentTraceContext } from '@imm/telemetry';
import { OutboxMessage } from './outbox-entities';

/**
 * A new envelope for `data`, carrying the request id of the request that caused it and, when
 * traced, its trace context: the relay publishes long after, outside the request.
 */
export function createEnvelope<T extends EventType>(type: T, data: EventData<T>): EventEnvelope<EventData<T>> {
  const requestId = currentRequestId();
  const traceContext = currentTraceContext();
  return {
    id: randomUUID(),
    type,
    occurred_at: new Date().toISOString(),
    ...(requestId ? { request_id: requestId } : {}),
    ...(traceContext ? { trace_context: traceContext } : {}),
    // Checked here, where the bug is, rather than by every consumer.
    data: events[type].parse(data) as EventData<T>,
  };
}

/**
 * Records an event in the outbox through `em`; the caller's transaction (`em.transactional`, or
 * the next flush) commits it together with the change, or neither. The relay publishes it.
 */
export function recordEvent<T extends EventType>(em: EntityManager, type: T, data: EventData<T>): EventEnvelope {
  const envelope = createEnvelope(type, data);
  em.persist(
    em.create(OutboxMessage, {
      id: envelope.id,
      type,
      payload: envelope,
      createdAt: new Date(envelope.occurred_at),
      publishedAt: null,
    }),
  );
  return envelope;
}

/**
 * The outbox row of an envelope, for a hot path that writes its change and its event in one
 * statement of its own SQL (`insert into outbox_message ${OUTBOX_COLUMNS} values ($n, …)`): the
 * same row `recordEvent` writes.
 */
export const OUTBOX_COLUMNS = '(id, type, payload, created_at)';
export function outboxValues(envelope: EventEnvelope): unknown[] {
  return [envelope.id, envelope.type, JSON.stringify(envelope), envelope.occurred_at];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Consumer names are durable names from the code (`machines-operation-completed`). */
const CONSUMER = /^[\w.:-]{1,200}$/;

/**
 * The statement behind `markProcessed`, with its values written into the text (checked first: a
 * uuid and a plain name, nothing that could quote) so that it can travel in one round trip with
 * other statements (`SqlTransaction.batch`). It returns a row when the event is new to `consumer`.
 */
export function markProcessedStatement(consumer: string, eventId: string): string {
  if (!CONSUMER.test(consumer)) throw new Error(`not a consumer name: ${JSON.stringify(consumer)}`);
  if (!UUID.test(eventId)) throw new Error(`not an event id: ${JSON.stringify(eventId)}`);
  return `insert into processed_event (consumer, event_id, processed_at) values ('${consumer}', '${eventId}', now())
    on conflict (consumer, event_id) do nothing returning event_id`;
}

/**
 * Marks an event as handled by `consumer`, inside the handler's transaction. False when it was
 * handled before (a redelivery): the handler then does nothing. A concurrent duplicate waits on
 * the row lock and gets false once the first commits.
 */
export async function markProcessed(em: EntityManager, consumer: string, eventId: string): Promise<boolean> {
  const rows = await em.execute<unknown[]>(markProcessedStatement(consumer, eventId));
  return rows.length > 0;
}

import { type EventEnvelope, type EventType, events } from '@imm/contracts';
import { REQUEST_ID_HEADER } from '@imm/logging';
import { injectTraceContext, SpanKind, withSpan } from '@imm/telemetry';
import { headers, type MsgHdrs } from 'nats';
import type { Bus } from './connection';
import { BusUnavailableError } from './errors';
import { subjectOf } from './subjects';
import { natsHeaderSetter } from './tracing';

export interface PublishOptions {
  /** How long to wait for JetStream's acknowledgement. */
  timeoutMs?: number;
}

/**
 * Publishes one event and waits until JetStream stored it. The message id is the envelope id, so a
 * re-publish of the same event (a relay retry) is recognised as a duplicate and stored once.
 */
export async function publishEvent(bus: Bus, envelope: EventEnvelope, options: PublishOptions = {}): Promise<void> {
  if (!(envelope.type in events)) throw new Error(`unknown event type: ${envelope.type}`);
  // While disconnected, nats.js would buffer the message and time out later; a caller that retries
  // is better served by failing now.
  if (!bus.isConnected()) throw new BusUnavailableError('NATS is not connected');
  const h = headers();
  if (envelope.request_id) h.set(REQUEST_ID_HEADER, envelope.request_id);
  const subject = subjectOf(bus.prefix, envelope.type as EventType);
  // A traced event's publish joins the trace of the work that recorded it, and the consumer joins this.
  if (!envelope.trace_context) return send(bus, subject, envelope, h, options);
  return withSpan(
    `publish ${envelope.type}`,
    { kind: SpanKind.PRODUCER, parent: envelope.trace_context, attributes: { 'messaging.destination.name': subject } },
    () => {
      injectTraceContext(h, natsHeaderSetter);
      return send(bus, subject, envelope, h, options);
    },
  );
}

async function send(bus: Bus, subject: string, envelope: EventEnvelope, h: MsgHdrs, options: PublishOptions) {
  try {
    await bus.js.publish(subject, JSON.stringify(envelope), {
      msgID: envelope.id,
      headers: h,
      timeout: options.timeoutMs ?? 5000,
    });
  } catch (error) {
    throw new BusUnavailableError(`publishing ${envelope.type} failed: ${(error as Error).message}`, { cause: error });
  }
}

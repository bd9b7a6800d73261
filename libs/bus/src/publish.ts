import { type EventEnvelope, type EventType, events } from '@imm/contracts';
import { REQUEST_ID_HEADER } from '@imm/logging';
import { headers } from 'nats';
import type { Bus } from './connection';
import { BusUnavailableError } from './errors';
import { subjectOf } from './subjects';

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
  try {
    await bus.js.publish(subjectOf(bus.prefix, envelope.type as EventType), JSON.stringify(envelope), {
      msgID: envelope.id,
      headers: h,
      timeout: options.timeoutMs ?? 5000,
    });
  } catch (error) {
    throw new BusUnavailableError(`publishing ${envelope.type} failed: ${(error as Error).message}`, { cause: error });
  }
}

import { REQUEST_ID_HEADER } from '@imm/logging';
import { headers } from 'nats';
import type { Bus } from './connection';
import { deadLetterStreamName } from './subjects';

export interface DeadLetter {
  /** Sequence in the dead-letter stream. */
  seq: number;
  /** The consumer that gave up on it. */
  consumer: string;
  /** Where it was first published; a replay publishes it there again. */
  subject: string;
  reason: string;
  deliveries: number;
  /** The event id, when the payload is an envelope. */
  eventId: string | undefined;
  data: Uint8Array;
  requestId: string | undefined;
}

function eventIdOf(data: Uint8Array): string | undefined {
  try {
    const id = (JSON.parse(new TextDecoder().decode(data)) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Every dead letter, oldest first; only those of `consumer` when given. */
export async function listDeadLetters(bus: Bus, consumer?: string): Promise<DeadLetter[]> {
  const stream = deadLetterStreamName(bus.prefix);
  const info = await bus.jsm.streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const letters: DeadLetter[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (!msg) continue; // deleted (replayed before)
    const owner = msg.header.get('x-dead-consumer');
    if (consumer && owner !== consumer) continue;
    letters.push({
      seq,
      consumer: owner,
      subject: msg.header.get('x-dead-subject'),
      reason: msg.header.get('x-dead-reason'),
      deliveries: Number(msg.header.get('x-dead-deliveries')) || 0,
      eventId: eventIdOf(msg.data),
      data: msg.data,
      requestId: msg.header.get(REQUEST_ID_HEADER) || undefined,
    });
  }
  return letters;
}

/**
 * Publishes each dead letter again on its original subject and, once JetStream stored it, deletes
 * it from the dead-letter stream. Every consumer of that subject receives it again; those that
 * handled it before drop it by its event id (`markProcessed`), the one that gave up applies it.
 * The message id is new (`replay:<dead seq>`): the original id may still be inside the stream's
 * duplicate window, which would drop the replay silently.
 */
export async function replayDeadLetters(bus: Bus, letters: DeadLetter[]): Promise<number> {
  const stream = deadLetterStreamName(bus.prefix);
  let replayed = 0;
  for (const letter of letters) {
    if (!letter.subject) continue;
    const h = headers();
    if (letter.requestId) h.set(REQUEST_ID_HEADER, letter.requestId);
    h.set('x-replayed-from', `${stream}:${letter.seq}`);
    await bus.js.publish(letter.subject, letter.data, {
      headers: h,
      msgID: `replay:${bus.prefix}:${letter.seq}`,
    });
    await bus.jsm.streams.deleteMessage(stream, letter.seq, false);
    replayed += 1;
  }
  return replayed;
}

import { randomUUID } from 'node:crypto';
import { type EventData, type EventEnvelope, type EventType, eventEnvelopeSchema, events } from '@imm/contracts';
import { REQUEST_ID_HEADER, runWithRequestId } from '@imm/logging';
import { extractTraceContext, SpanKind, withSpan } from '@imm/telemetry';
import {
  AckPolicy,
  ConsumerEvents,
  type ConsumerMessages,
  DeliverPolicy,
  headers,
  type JsMsg,
  nanos,
  ReplayPolicy,
} from 'nats';
import { type Bus, declareStreams } from './connection';
import { busMetrics } from './metrics';
import { interruptibleSleep } from './sleep';
import { deadLetterSubject, streamOfType, subjectOf } from './subjects';
import { natsHeaderGetter } from './tracing';

export interface ConsumerOptions<T extends EventType> {
  /** Consumer name, unique per consuming service and purpose, e.g. `machines-operation-completed`. */
  durable: string;
  /** Event types to receive; they must all be published by one service (one stream). */
  types: T[];
  /**
   * Handler runs at most this many times per event, then the event goes to dead letter. Default:
   * no limit. A failing handler is almost always a dependency that is away (its database); the
   * event must wait for it, not be dropped, or the consumer's state never catches up.
   */
  maxDeliver?: number;
  /** First retry delay after a failed handler; doubles per attempt up to `maxRetryDelayMs`. Default 1000. */
  retryDelayMs?: number;
  /** Longest wait between two attempts. Default 60000. */
  maxRetryDelayMs?: number;
  handle: (event: EventEnvelope<EventData<T>>) => Promise<void>;
}

export interface RunningConsumer {
  /** Stops pulling, waits for the handler in progress, and leaves the durable consumer on the server. */
  stop(): Promise<void>;
}

/** A handler longer than this is told "still working" so the server does not redeliver meanwhile. */
const ACK_WAIT_MS = 30_000;
const MAX_RETRY_DELAY_MS = 60_000;
const MAX_RESTART_DELAY_MS = 5_000;

const BACKLOG_LOG_EVERY_MS = 30_000;

/**
 * A message that breaks the contract: no retry can fix it, so it goes to dead letter at once. The
 * consumer throws it for a payload that fails its schema; a handler throws it for an event that is
 * valid but can never be applied (`npm run events:replay` sends it again once that is fixed).
 */
export class RejectedEventError extends Error {
  override name = 'RejectedEventError';
}

/**
 * A durable pull consumer: the message is acknowledged only after `handle` resolved (the handler
 * commits its own transaction and de-duplicates with `markProcessed`); a failed handler is retried
 * with backoff (capped at a minute) for as long as it fails, unless `maxDeliver` is set. Only a
 * message that breaks the contract (a RejectedEventError, from the parser or the handler), or one
 * past an explicit `maxDeliver`, is copied to `<prefix>.dead.<durable>` and terminated.
 */
export function startConsumer<T extends EventType>(bus: Bus, options: ConsumerOptions<T>): RunningConsumer {
  const { durable, types, handle } = options;
  const maxDeliver = options.maxDeliver ?? Number.POSITIVE_INFINITY;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? MAX_RETRY_DELAY_MS;
  const first = types[0];
  if (!first) throw new Error('startConsumer needs at least one event type');
  const stream = streamOfType(bus.prefix, first);
  if (types.some((t) => streamOfType(bus.prefix, t) !== stream)) {
    throw new Error(`consumer ${durable}: all types must come from one service's stream`);
  }
  const logger = bus.logger.child({ consumer: durable });
  // nats-server 2.9 allows one filter subject per consumer: one type filters exactly, several
  // share the service's wildcard and the others are skipped here.
  const filter = types.length === 1 ? subjectOf(bus.prefix, first) : `${bus.prefix}.${first.split('.')[0]}.>`;
  const wanted = new Set<string>(types);

  let stopped = false;
  let lastBacklogLog = 0;
  let messages: ConsumerMessages | undefined;
  const pause = interruptibleSleep();

  async function ensureConsumer(): Promise<void> {
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: filter,
      ack_wait: nanos(ACK_WAIT_MS),
      // Unlimited on the server: attempts are counted here, so a message whose handler crashed
      // the process on its last attempt still reaches dead letter instead of vanishing.
      max_deliver: -1,
    };
    try {
      await bus.jsm.consumers.add(stream, config);
    } catch (error) {
      if (/stream not found/i.test(String(error))) {
        await declareStreams(bus.jsm, bus.prefix);
        await bus.jsm.consumers.add(stream, config);
      } else {
        // Exists with an older configuration: update what may change.
        const { ack_wait, max_deliver, filter_subject } = config;
        await bus.jsm.consumers.update(stream, durable, { ack_wait, max_deliver, filter_subject });
      }
    }
  }

  async function deadLetter(msg: JsMsg, reason: string): Promise<void> {
    const h = headers();
    const requestId = msg.headers?.get(REQUEST_ID_HEADER);
    if (requestId) h.set(REQUEST_ID_HEADER, requestId);
    h.set('x-dead-reason', reason.slice(0, 1000).replace(/[\r\n]+/g, ' '));
    h.set('x-dead-subject', msg.subject);
    h.set('x-dead-consumer', durable);
    h.set('x-dead-deliveries', String(msg.info.deliveryCount));
    await bus.js.publish(deadLetterSubject(bus.prefix, durable), msg.data, {
      headers: h,
      // Dead-lettering the same stream message twice (after a crash) stores it once.
      msgID: `${durable}:${msg.info.streamSequence}`,
    });
    msg.term(reason.slice(0, 200));
    busMetrics.deadLetters.labels(durable).inc();
  }

  /** While handlers fail, says now and then how many events wait, so an operator sees the backlog grow. */
  async function logBacklog(): Promise<void> {
    if (Date.now() - lastBacklogLog < BACKLOG_LOG_EVERY_MS) return;
    lastBacklogLog = Date.now();
    try {
      const info = await bus.jsm.consumers.info(stream, durable);
      logger.warn(
        { pending: info.num_pending, unacknowledged: info.num_ack_pending, redelivered: info.num_redelivered },
        'consumer backlog while its handler fails',
      );
    } catch (error) {
      logger.debug({ err: error }, 'consumer backlog unknown');
    }
  }

  function parse(msg: JsMsg): EventEnvelope<EventData<T>> | null {
    const subjectType = msg.subject.slice(bus.prefix.length + 1);
    if (!wanted.has(subjectType)) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      throw new RejectedEventError('payload is not JSON');
    }
    const envelope = eventEnvelopeSchema.safeParse(raw);
    if (!envelope.success) throw new RejectedEventError(`invalid envelope: ${envelope.error.message}`);
    if (envelope.data.type !== subjectType)
      throw new RejectedEventError(`envelope type ${envelope.data.type} on ${msg.subject}`);
    const data = events[envelope.data.type as T].safeParse(envelope.data.data);
    if (!data.success) throw new RejectedEventError(`invalid ${envelope.data.type} payload: ${data.error.message}`);
    return { ...envelope.data, data: data.data as EventData<T> };
  }

  async function settle(msg: JsMsg): Promise<void> {
    const attempt = msg.info.deliveryCount;
    if (attempt > 1) busMetrics.redeliveries.labels(durable).inc();
    let event: EventEnvelope<EventData<T>> | null;
    try {
      event = parse(msg);
    } catch (error) {
      logger.error({ subject: msg.subject, err: error }, 'event rejected, sent to dead letter');
      await deadLetter(msg, (error as Error).message);
      return;
    }
    if (!event) {
      msg.ack(); // another type on the shared filter
      return;
    }
    const current = event;
    const requestId = current.request_id ?? randomUUID();
    await runWithRequestId(requestId, async () => {
      const log = logger.child({ eventId: current.id, eventType: current.type, attempt });
      if (attempt > maxDeliver) {
        // The handler was started maxDeliver times without an answer (crash or timeout).
        log.error('event exceeded its deliveries, sent to dead letter');
        await deadLetter(msg, `no result after ${maxDeliver} deliveries`);
        return;
      }
      const keepAlive = setInterval(() => msg.working(), ACK_WAIT_MS / 3);
      try {
        await handle(current);
      } catch (error) {
        if (error instanceof RejectedEventError) {
          log.error({ err: error }, 'event rejected by its handler, sent to dead letter');
          await deadLetter(msg, `rejected: ${error.message}`);
        } else if (attempt >= maxDeliver) {
          log.error({ err: error }, 'event handler failed for the last time, sent to dead letter');
          await deadLetter(msg, `handler failed: ${(error as Error).message}`);
        } else {
          const delay = Math.min(retryDelayMs * 2 ** Math.min(attempt - 1, 30), maxRetryDelayMs);
          log.warn({ err: error, retryInMs: delay }, 'event handler failed, will retry');
          msg.nak(delay);
          void logBacklog();
        }
        return;
      } finally {
        clearInterval(keepAlive);
      }
      try {
        await msg.ackAck();
      } catch (error) {
        // The handler committed; a redelivery is caught by the handler's de-duplication.
        log.warn({ err: error }, 'ack not confirmed');
      }
    });
  }

  /** A message that carries a trace context is settled inside a consumer span of that trace. */
  function settleTraced(msg: JsMsg): Promise<void> {
    const parent = extractTraceContext(msg.headers, natsHeaderGetter);
    if (!parent) return settle(msg);
    const type = msg.subject.slice(bus.prefix.length + 1);
    const attributes = { 'messaging.consumer.group.name': durable };
    return withSpan(`process ${type}`, { kind: SpanKind.CONSUMER, parent, attributes }, () => settle(msg));
  }

  /**
   * nats.js rides out disconnects by itself, but keeps polling a consumer that was deleted (e.g. a
   * server that lost its store): end this round so the loop declares it again.
   */
  async function restartWhenConsumerIsGone(current: ConsumerMessages): Promise<void> {
    for await (const status of await current.status()) {
      if (
        status.type === ConsumerEvents.ConsumerDeleted ||
        status.type === ConsumerEvents.ConsumerNotFound ||
        status.type === ConsumerEvents.StreamNotFound
      ) {
        logger.warn({ status: status.type }, 'consumer gone, declaring it again');
        current.stop();
        return;
      }
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      try {
        await ensureConsumer();
        const consumer = await bus.js.consumers.get(stream, durable);
        if (stopped) break;
        const current = await consumer.consume({ max_messages: 32 });
        messages = current;
        if (stopped) {
          // stop() ran while consume() was starting and had nothing to close yet.
          await current.close();
          break;
        }
        failures = 0;
        void restartWhenConsumerIsGone(current);
        logger.debug({ stream, filter }, 'consuming');
        for await (const msg of current) {
          try {
            await settleTraced(msg);
          } catch (error) {
            // Dead-lettering needs NATS; without it the message is simply delivered again later.
            logger.warn({ err: error }, 'could not settle message; it will be redelivered');
            try {
              msg.nak(retryDelayMs);
            } catch {
              // Connection gone: the server redelivers after ack_wait anyway.
            }
          }
          if (stopped) break;
        }
      } catch (error) {
        if (!stopped) logger.warn({ err: error }, 'consumer interrupted, restarting');
      } finally {
        messages = undefined;
      }
      if (!stopped) await pause.sleep(Math.min(250 * 2 ** failures++, MAX_RESTART_DELAY_MS));
    }
  }

  const running = run();
  return {
    async stop() {
      stopped = true;
      pause.wake();
      await messages?.close();
      await running;
    },
  };
}

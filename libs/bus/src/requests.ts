import { randomUUID } from 'node:crypto';
import { type ReplyOf, type RequestName, type RequestOf, requests } from '@imm/contracts';
import { currentRequestId, REQUEST_ID_HEADER, runWithRequestId } from '@imm/logging';
import { extractTraceContext, injectTraceContext, SpanKind, tracingEnabled, withSpan } from '@imm/telemetry';
import { ErrorCode, headers, type Msg, type NatsError } from 'nats';
import type { Bus } from './connection';
import { BusRequestError, BusUnavailableError } from './errors';
import { natsHeaderGetter, natsHeaderSetter } from './tracing';

/** Set on a reply that reports a failure instead of an answer; the body is `{ "message": ... }`. */
const ERROR_HEADER = 'x-error';

function subjectOfRequest(prefix: string, name: RequestName): string {
  return `${prefix}.${name}`;
}

/**
 * Answers one request/reply contract. All replicas join one queue group, so each request is
 * answered once. Requests and replies are checked against the contract.
 */
export function serveRequests<N extends RequestName>(
  bus: Bus,
  name: N,
  handler: (request: RequestOf<N>) => Promise<ReplyOf<N>>,
): { stop(): Promise<void> } {
  const subject = subjectOfRequest(bus.prefix, name);
  const contract = requests[name];
  const logger = bus.logger.child({ request: name });
  const inFlight = new Set<Promise<void>>();

  function fail(msg: Msg, kind: string, message: string): void {
    const h = headers();
    h.set(ERROR_HEADER, kind);
    msg.respond(JSON.stringify({ message }), { headers: h });
  }

  async function answer(msg: Msg): Promise<void> {
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      fail(msg, 'invalid-request', 'request is not JSON');
      return;
    }
    const parsed = contract.request.safeParse(payload);
    if (!parsed.success) {
      fail(msg, 'invalid-request', parsed.error.message);
      return;
    }
    try {
      const reply = contract.reply.parse(await handler(parsed.data as RequestOf<N>));
      msg.respond(JSON.stringify(reply));
    } catch (error) {
      logger.error({ err: error }, 'request handler failed');
      fail(msg, 'handler-failed', 'the responder failed');
    }
  }

  const sub = bus.nc.subscribe(subject, {
    queue: subject,
    callback: (error, msg) => {
      if (error) {
        logger.warn({ err: error }, 'request subscription error');
        return;
      }
      const requestId = msg.headers?.get(REQUEST_ID_HEADER) || randomUUID();
      const parent = extractTraceContext(msg.headers, natsHeaderGetter);
      const task = runWithRequestId(requestId, () =>
        parent ? withSpan(`${name} reply`, { kind: SpanKind.SERVER, parent }, () => answer(msg)) : answer(msg),
      ).finally(() => inFlight.delete(task));
      inFlight.add(task);
    },
  });

  return {
    async stop() {
      await sub.drain();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Asks a request/reply contract's responder and returns its reply. Throws BusUnavailableError when
 * NATS is down, nobody serves the subject, or no answer comes in time; BusRequestError when the
 * responder failed or broke the contract.
 */
export async function request<N extends RequestName>(
  bus: Bus,
  name: N,
  payload: RequestOf<N>,
  timeoutMs = 5000,
): Promise<ReplyOf<N>> {
  const contract = requests[name];
  const body = contract.request.parse(payload);
  if (!bus.isConnected()) throw new BusUnavailableError(`${name}: NATS is not connected`);
  const h = headers();
  const requestId = currentRequestId();
  if (requestId) h.set(REQUEST_ID_HEADER, requestId);
  let reply: Msg;
  try {
    const ask = () =>
      bus.nc.request(subjectOfRequest(bus.prefix, name), JSON.stringify(body), { timeout: timeoutMs, headers: h });
    reply = await (tracingEnabled
      ? withSpan(`${name} request`, { kind: SpanKind.CLIENT }, () => {
          injectTraceContext(h, natsHeaderSetter);
          return ask();
        })
      : ask());
  } catch (error) {
    const code = (error as NatsError).code;
    const reason = code === ErrorCode.NoResponders ? 'no responders' : code === ErrorCode.Timeout ? 'timed out' : code;
    throw new BusUnavailableError(`${name}: ${reason ?? (error as Error).message}`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(reply.data));
  } catch (error) {
    throw new BusRequestError(`${name}: reply is not JSON`, { cause: error });
  }
  const failure = reply.headers?.get(ERROR_HEADER);
  if (failure) {
    const message = (data as { message?: unknown } | null)?.message;
    throw new BusRequestError(`${name}: ${failure}: ${typeof message === 'string' ? message : ''}`);
  }
  const parsed = contract.reply.safeParse(data);
  if (!parsed.success) throw new BusRequestError(`${name}: reply breaks the contract: ${parsed.error.message}`);
  return parsed.data as ReplyOf<N>;
}

/**
 * One load run with autocannon: a fixed number of connections sending requests back to back for a
 * fixed time. Latency is taken from every response (float milliseconds, like wrk), not from
 * autocannon's integer histogram of 2xx responses only.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { send } from './api';
import { type LatencySummary, round, summarize } from './stats';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  path: string;
  body?: string;
}

export interface LoadSpec {
  baseUrl: string;
  /** The request every connection sends, or a function giving the next one (called per request). */
  request: LoadRequest | (() => LoadRequest & { onStatus?: (status: number) => void });
  token?: string;
  connections: number;
  seconds: number;
  /** Stop after this many responses instead (none is left in flight, unlike a timed run). */
  amount?: number;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  /** Responses counted. */
  requests: number;
  /** Requests written (the responses to those still in flight at the end are not counted). */
  sent: number;
  rps: number;
  latency: LatencySummary;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

interface Sent {
  onStatus?: (status: number) => void;
}

/**
 * autocannon writes the next request on a connection right after a response, even when the server
 * said `Connection: close` (the Django service's gunicorn does, for every response); that request
 * is lost and its queued start time inflates every later latency. This waits for the reconnect.
 */
function reconnectOnClose(client: autocannon.Client): void {
  const patched = client as unknown as {
    _doRequest: () => void;
    _connect: () => void;
    closing?: boolean;
  };
  const doRequest = patched._doRequest;
  const connect = patched._connect;
  // The parser's header event carries `shouldKeepAlive` (the typings know only the headers).
  (client as unknown as NodeJS.EventEmitter).on('headers', (info: { shouldKeepAlive?: boolean }) => {
    if (info.shouldKeepAlive === false) patched.closing = true;
  });
  patched._doRequest = function (this: typeof patched) {
    if (!this.closing) doRequest.call(this);
  };
  patched._connect = function (this: typeof patched) {
    this.closing = false;
    connect.call(this);
  };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (spec.token) headers.authorization = `Bearer ${spec.token}`;
  const fixed = typeof spec.request === 'function' ? undefined : spec.request;
  const next = typeof spec.request === 'function' ? spec.request : undefined;

  const requests: autocannon.Request[] = next
    ? [
        {
          setupRequest: (request, context) => {
            const { onStatus, ...chosen } = next();
            (context as Sent).onStatus = onStatus;
            return { ...request, ...chosen };
          },
          onResponse: (status, _body, context) => (context as Sent).onStatus?.(status),
        },
      ]
    : [];

  const samples: number[] = [];
  // Without a callback autocannon returns its event emitter, which is also a promise of the result.
  const instance = autocannon({
    url: spec.baseUrl + (fixed?.path ?? ''),
    connections: spec.connections,
    duration: spec.seconds,
    ...(spec.amount && { amount: spec.amount }),
    timeout: 10,
    headers,
    ...(fixed && { method: fixed.method, body: fixed.body }),
    ...(next && { requests }),
    setupClient: reconnectOnClose,
  } as autocannon.Options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    samples.push(ms);
  });
  const result = await instance;

  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count ?? 0;
  return {
    connections: spec.connections,
    seconds: result.duration,
    requests: samples.length,
    sent: result.requests.sent,
    rps: round(samples.length / result.duration),
    latency: summarize(samples),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}

/**
 * `connections` loops, each sending the request and waiting for its answer, until `seconds` have
 * passed; the last request of each loop is waited for too, so a request slower than the run is
 * still measured (a timed autocannon run drops what is in flight at its end). For low concurrency,
 * where the latency of one request is what is measured.
 */
export async function runClosedLoop(spec: LoadSpec & { request: LoadRequest }): Promise<LoadResult> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (spec.token) headers.authorization = `Bearer ${spec.token}`;
  if (spec.request.body !== undefined) headers['content-type'] = 'application/json';
  const samples: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  const start = performance.now();
  const end = start + spec.seconds * 1000;
  // Each loop sends at least one request, so `seconds: 0` is one request per connection.
  const loop = async () => {
    do {
      const sent = performance.now();
      try {
        const { status } = await send(
          spec.baseUrl + spec.request.path,
          spec.request.method,
          { ...headers },
          spec.request.body,
        );
        samples.push(performance.now() - sent);
        statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      } catch {
        errors++;
      }
    } while (performance.now() < end);
  };
  await Promise.all(Array.from({ length: spec.connections }, loop));
  const seconds = (performance.now() - start) / 1000;
  const non2xx = Object.entries(statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
  return {
    connections: spec.connections,
    seconds: round(seconds),
    requests: samples.length,
    sent: samples.length + errors,
    rps: round(samples.length / seconds),
    latency: summarize(samples),
    errors,
    timeouts: 0,
    non2xx,
    statusCodes,
  };
}

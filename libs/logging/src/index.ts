import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { traceFields, tracingEnabled } from '@imm/telemetry';
import pino, { type Logger } from 'pino';
import { errorSerializer } from './error-serializer';

export type { Logger } from 'pino';
export { errorSerializer, scrubSecrets } from './error-serializer';

/** The header that carries a request id from the client, through the gateway, to every service. */
export const REQUEST_ID_HEADER = 'x-request-id';

interface RequestContext {
  requestId: string;
}

const context = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with a request id that every log line written inside it carries. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return context.run({ requestId }, fn);
}

export function currentRequestId(): string | undefined {
  return context.getStore()?.requestId;
}

/** A client's request id is kept only when it is short and printable, so it cannot forge log lines. */
export function acceptRequestId(candidate: unknown): string {
  if (typeof candidate === 'string' && /^[\w.:/+=-]{1,128}$/.test(candidate)) return candidate;
  return randomUUID();
}

function requestFields(): object {
  const requestId = currentRequestId();
  return requestId ? { requestId } : {};
}

/** With tracing on, a line written inside a trace also names its trace and span. */
function requestAndTraceFields(): object {
  const requestId = currentRequestId();
  const trace = traceFields();
  if (!trace) return requestId ? { requestId } : {};
  return requestId ? { requestId, ...trace } : trace;
}

/**
 * stdout, written asynchronously: a request never waits for its log line to reach a slow pipe, and
 * lines logged while a write is in flight go out together in one write. One destination per
 * process, whatever the number of loggers. `LOG_FORMAT=pretty` makes it readable lines
 * (pino-pretty, coloured where the terminal takes it).
 */
let stdout: pino.DestinationStream | undefined;
function stdoutDestination(): pino.DestinationStream {
  stdout ??= process.env.LOG_FORMAT === 'pretty' ? prettyDestination() : jsonDestination();
  return stdout;
}

function jsonDestination(): pino.DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false });
  logsWritten = (timeoutMs) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      destination.once('drain', () => {
        clearTimeout(timer);
        resolve();
      });
      // Queued behind whatever is buffered or in flight: 'drain' comes once all of it is written.
      destination.write('');
    });
  return destination;
}

function prettyDestination(): pino.DestinationStream {
  // Loaded only when asked for: JSON needs none of it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => pino.DestinationStream;
  return pretty({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name,service', sync: false });
}

// Nothing to wait for until JSON lines are written (pino-pretty's terminal output has no such signal).
let logsWritten = (_timeoutMs: number): Promise<void> => Promise.resolve();

/**
 * Resolves once every line logged so far is written to stdout: await it before `process.exit` and
 * before `logger.fatal`. Both flush synchronously what is buffered, ahead of a write still in
 * flight (sonic-boom issue 101), so without it the last lines can reach stdout before earlier ones.
 * Resolves after `timeoutMs` at the latest: a pipe nobody reads must not keep a process from exiting.
 */
export function allLogsWritten(timeoutMs = 1000): Promise<void> {
  return logsWritten(timeoutMs);
}

/**
 * JSON lines on stdout (or readable ones with `LOG_FORMAT=pretty`). Passwords, tokens and
 * authorization headers are redacted wherever they appear, so no code path can log them by accident.
 */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      base: { service: name },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Errors (driver errors included) lose any hash or token in their text.
      serializers: { err: errorSerializer },
      mixin: tracingEnabled ? requestAndTraceFields : requestFields,
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'token',
          '*.token',
          'access',
          'refresh',
          '*.access',
          '*.refresh',
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    stdoutDestination(),
  );
}

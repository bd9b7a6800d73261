import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { errorEnvelope } from './envelope';
import { ErrorCode } from '@imm/errors';
import { HttpError } from './errors';

/** What Node's HTTP parser refused, as the status Node itself would answer and our message. */
function parserRefusal(code: string | undefined): HttpError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, ErrorCode.BADREQUEST, { key: 'headers_too_large' });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HttpError(413, ErrorCode.BADREQUEST, { key: 'payload_too_large', params: { limit: '16kb' } });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, ErrorCode.BADREQUEST, { key: 'request_timeout' });
    default:
      return new HttpError(400, ErrorCode.BADREQUEST, { key: 'bad_request' });
  }
}

/**
 * A request Node's parser refuses (headers over its limit, a broken request line) never reaches
 * express, and Node answers it with an empty body. Answered here in the envelope instead, where
 * the socket can still take a response.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refusal = parserRefusal(error.code);
    const body = JSON.stringify(errorEnvelope(refusal, 'en'));
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Bad Request'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${randomUUID()}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}

/** Starts listening and resolves once the port is bound (port 0 picks a free one); loopback by default. */
export function listen(app: Express, port: number, host = '127.0.0.1'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
    server.keepAliveTimeout = 65_000; // longer than the gateway's upstream idle timeout
    answerClientErrors(server);
  });
}

/** The port a listening server is bound to: the one PORT=0 picked. */
export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * Runs `stop` once on SIGINT/SIGTERM, then exits with `exit` (0, or 1 when stopping failed); a
 * second signal, or a stop that outlasts the deadline, exits at once.
 */
export function onShutdown(
  stop: () => Promise<void>,
  logger: { info: (m: string) => void; error: (o: object, m: string) => void },
  deadlineMs = 15_000,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    const timer = setTimeout(() => process.exit(1), deadlineMs);
    timer.unref();
    stop().then(
      () => exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGINT', () => handle('SIGINT'));
  process.on('SIGTERM', () => handle('SIGTERM'));
}

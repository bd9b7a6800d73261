import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/** Starts listening and resolves once the port is bound (port 0 picks a free one); loopback by default. */
export function listen(app: Express, port: number, host = '127.0.0.1'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
    server.keepAliveTimeout = 65_000; // longer than the gateway's upstream idle timeout
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
 * Runs `stop` once on SIGINT/SIGTERM; a second signal, or a stop that outlasts the deadline,
 * exits at once.
 */
export function onShutdown(
  stop: () => Promise<void>,
  logger: { info: (m: string) => void; error: (o: object, m: string) => void },
  deadlineMs = 15_000,
): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    const timer = setTimeout(() => process.exit(1), deadlineMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handle('SIGINT'));
  process.on('SIGTERM', () => handle('SIGTERM'));
}

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitOnConfigError } from '@imm/config';
import { allLogsWritten, createLogger, type Logger } from '@imm/logging';
import { flushTracing } from '@imm/telemetry';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { boundPort, closeServer, listen, onShutdown } from './server';

type Closer = () => Promise<unknown> | unknown;

export interface CloserStack {
  push(close: Closer): void;
  closeAll(): Promise<void>;
}

/** Closes what was opened, newest first; a failing closer does not keep the others open. */
export function closerStack(logger: Logger): CloserStack {
  const closers: Closer[] = [];
  return {
    push: (close) => void closers.push(close),
    async closeAll() {
      for (const close of closers.splice(0).reverse()) {
        try {
          await close();
        } catch (error) {
          logger.warn({ err: error }, 'error while shutting down');
        }
      }
    },
  };
}

export interface ServeOptions {
  /** The interface to listen on (`HOST`); loopback unless given. */
  host?: string;
  /** Whose X-Forwarded-For to believe (`TRUSTED_PROXIES`); the app's own setting unless given. */
  trustedProxies?: string[];
}

/**
 * Listens on `port` (0 picks a free one) and puts the server on the closer stack, so it closes in
 * turn with what was opened before it. Returns the port actually bound.
 */
export async function serveHttp(
  app: Express,
  port: number,
  closers: CloserStack,
  options: ServeOptions = {},
): Promise<{ server: Server; port: number }> {
  if (options.trustedProxies) app.set('trust proxy', options.trustedProxies);
  const server = await listen(app, port, options.host);
  closers.push(() => closeServer(server));
  return { server, port: boundPort(server) };
}

/** True in the script node was started with, false where a test imports the module. */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
}

export interface MainOptions<C extends { LOG_LEVEL: string }> {
  /** The logger's name: the `service` of every log line. */
  name: string;
  /** What the log calls the process when it fails to start ("auth service"). */
  title: string;
  /** Throws a ConfigError when the environment is wrong. */
  loadConfig: () => C;
  start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>;
  /** How long stopping may take before the process exits anyway (onShutdown's default otherwise). */
  shutdownDeadlineMs?: (config: C) => number;
}

/**
 * A process's main: a wrong environment exits 78 (EX_CONFIG), a failed start is logged and exits 1,
 * and SIGINT/SIGTERM stop what was started.
 */
export async function runMain<C extends { LOG_LEVEL: string }>(options: MainOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig();
  } catch (error) {
    exitOnConfigError(error);
  }
  const logger = createLogger(options.name, config.LOG_LEVEL);
  // The last lines (what closed, in which order) reach stdout, in that order, before the exit.
  const exit = (code: number) => void allLogsWritten().then(() => process.exit(code));
  try {
    const running = await options.start(config, logger);
    // The last spans (of the shutdown too) are exported before the process exits.
    const stop = () => running.stop().finally(flushTracing);
    onShutdown(stop, logger, options.shutdownDeadlineMs?.(config), exit);
  } catch (error) {
    // fatal() flushes at once: what is still being written (the closed parts) goes out first.
    await allLogsWritten();
    logger.fatal({ err: error }, `${options.title} failed to start`);
    exit(1);
  }
}

import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { createTokenVerifier, remoteKeySource } from '@imm/auth';
import type { Logger } from '@imm/logging';
import { closerStack, serveHttp } from '@imm/web';
import { createApp } from './app';
import { type GatewayConfig, upstreamUrls } from './config';
import { createOpenApiCatalog } from './openapi/catalog';
import { gatewayDocument, mergeBase } from './openapi/gateway-document';
import { createUpstreamAgents } from './proxy';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

export interface RunningGateway {
  server: Server;
  port: number;
  /** Closes everything it opened, in reverse order. */
  close(): Promise<void>;
}

/**
 * Redis for admission (rate limit and not-before marks). Down at start or later is not fatal: the
 * in-memory limiter stands in and the marks count as absent.
 */
function connectRedis(url: string, timeoutMs: number, logger: Logger): Redis {
  const redis = new Redis(url, {
    // Fail at once while disconnected, so the rate limiter falls back instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Connected but stalled (CLIENT PAUSE, a full disk): no command waits longer than this.
    commandTimeout: timeoutMs,
    // The rate-limit count and the not-before read of one request go out in one write.
    enableAutoPipelining: true,
  });
  let lastError: string | undefined;
  redis.on('error', (error: Error) => {
    // A reconnect loop repeats the same error; log it once per outage.
    if (error.message === lastError) return;
    lastError = error.message;
    logger.warn({ err: error }, 'redis unavailable; rate limits counted in memory');
  });
  redis.on('ready', () => {
    if (lastError) logger.info('redis reachable again');
    lastError = undefined;
  });
  return redis;
}

/** Gives Redis a moment to connect, so the first requests are already counted there. */
async function waitForRedis(redis: Redis, waitMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    // A connection error is no reason to wait longer, nor to fail: the limiter falls back.
    once(redis, 'ready').catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, waitMs);
    }),
  ]);
  clearTimeout(timer);
}

/** Opens Redis, the upstream agents, the OpenAPI catalog and the HTTP server, in that order. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const closers = closerStack(logger);
  try {
    const redis = connectRedis(config.REDIS_URL, config.REDIS_TIMEOUT_MS, logger);
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    await waitForRedis(redis, 2000);
    const agents = createUpstreamAgents();
    closers.push(() => agents.destroy());
    const verifier = createTokenVerifier(
      remoteKeySource(config.AUTH_JWKS_URL, { minRefreshMs: config.JWKS_MIN_REFRESH_MS }),
    );
    const openApi = createOpenApiCatalog({
      upstreams: upstreamUrls(config),
      own: gatewayDocument(version),
      base: mergeBase(version),
      logger,
      refreshMs: config.OPENAPI_REFRESH_MS,
    });
    openApi.start();
    closers.push(() => openApi.stop());
    const app = createApp({ config, logger, redis, verifier, openApi, agents });
    const { server, port } = await serveHttp(app, config.PORT, closers, { host: config.HOST });
    logger.info({ port, upstreams: upstreamUrls(config) }, `gateway listening on port ${port}`);
    return { server, port, close: closers.closeAll };
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}

import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { createTokenVerifier, remoteKeySource } from '@imm/auth';
import { startService } from '@imm/host';
import type { Logger } from '@imm/logging';
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

/** The gateway: Redis for admission, the upstream agents, the OpenAPI catalog, then HTTP. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const { server, port, stop } = await startService({
    logger,
    // Rate limits and not-before marks. Down at start or later is not fatal: the in-memory limiter
    // stands in and the marks count as absent. A moment's wait lets the first requests count there.
    redis: {
      admission: {
        url: config.REDIS_URL,
        kind: 'command',
        commandTimeoutMs: config.REDIS_TIMEOUT_MS,
        autoPipelining: true,
        waitMs: 2000,
      },
    },
    context: ({ own }) => {
      const agents = own(createUpstreamAgents(), (a) => a.destroy());
      const openApi = createOpenApiCatalog({
        upstreams: upstreamUrls(config),
        own: gatewayDocument(version),
        base: mergeBase(version),
        logger,
        refreshMs: config.OPENAPI_REFRESH_MS,
      });
      openApi.start();
      own(openApi, (catalog) => catalog.stop());
      return { agents, openApi };
    },
    http: {
      port: config.PORT,
      host: config.HOST,
      app: ({ redis, readiness, agents, openApi }) => {
        const verifier = createTokenVerifier(
          remoteKeySource(config.AUTH_JWKS_URL, { minRefreshMs: config.JWKS_MIN_REFRESH_MS }),
        );
        return createApp({ config, logger, redis: redis.admission, readiness, verifier, openApi, agents });
      },
    },
  });
  logger.info({ port, upstreams: upstreamUrls(config) }, `gateway listening on port ${port}`);
  return { server, port, close: stop };
}

import type { Express, RequestHandler } from 'express';
import cors from 'cors';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { TokenVerifier } from '@imm/auth';
import type { Logger } from '@imm/logging';
import { nameRequestSpan } from '@imm/telemetry';
import { BadRequestError, NotFoundError } from '@imm/errors';
import { createHttpApp, type ReadinessChecks } from '@imm/web';
import { admission, requireAdmittedUser } from './admission';
import { type GatewayConfig, type Upstream, upstreamUrls } from './config';
import type { OpenApiCatalog } from './openapi/catalog';
import { openApiRoutes } from './openapi/routes';
import { createUpstreamProxy, type UpstreamAgents } from './proxy';
import { matchRoute } from './routes-table';

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  redis: Redis;
  /** The host's checks of what it opened (Redis); the upstream services' readiness is added here. */
  readiness: ReadinessChecks;
  verifier: TokenVerifier;
  openApi: OpenApiCatalog;
  agents: UpstreamAgents;
}

/**
 * `ALLOWED_HOSTS`, as Django read it: `example.com` matches that host, `.example.com` it and its
 * subdomains, `*` any. The port is ignored. Empty: every host.
 */
function allowedHosts(patterns: string[]): RequestHandler {
  const list = patterns.map((p) => p.toLowerCase());
  return (req, _res, next) => {
    if (list.length === 0) return next();
    const host = req.hostname?.toLowerCase() ?? '';
    const allowed = list.some(
      (p) => p === '*' || p === host || (p.startsWith('.') && (host.endsWith(p) || host === p.slice(1))),
    );
    if (!allowed) throw new BadRequestError('host_not_allowed');
    next();
  };
}

async function upstreamReady(baseUrl: string): Promise<void> {
  const response = await fetch(new URL('/readyz', baseUrl), { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`readyz answered ${response.status}`);
}

/**
 * The gateway: host check, security headers, CORS, admission (token signature, rate limit per user
 * or address, not-before marks), its own docs routes, then the route table (protected routes need
 * the admitted user, then the proxy). Anything else is a 404 envelope.
 * All of it runs before body parsing, so bodies reach the services untouched; `/healthz` and
 * `/readyz` (from createHttpApp) come before all of it and are never throttled.
 */
export function createApp(deps: GatewayDeps): Express {
  const { config, logger } = deps;
  const upstreams = upstreamUrls(config);
  const proxies = Object.fromEntries(
    Object.entries(upstreams).map(([name, target]) => [
      name,
      createUpstreamProxy({
        name,
        target,
        agents: deps.agents,
        timeoutMs: config.UPSTREAM_TIMEOUT_MS,
        bodyLimit: config.BODY_LIMIT,
        logger,
      }),
    ]),
  ) as Record<Upstream, RequestHandler>;

  const readiness: ReadinessChecks = {
    ...deps.readiness,
    ...Object.fromEntries(Object.entries(upstreams).map(([name, url]) => [name, () => upstreamReady(url)])),
  };

  const tableRoutes: RequestHandler = (req, res, next) => {
    const match = matchRoute(req.path);
    if (!match) return next();
    res.locals.metricsRoute = match.route.pattern;
    nameRequestSpan(req.method, match.route.pattern);
    const proxy = proxies[match.route.upstream];
    if (match.route.access === 'public') return proxy(req, res, next);
    // The token was checked at admission, so a bad one never reaches a service; the header goes on unchanged.
    return requireAdmittedUser(req, res, (error?: unknown) => (error ? next(error) : proxy(req, res, next)));
  };

  return createHttpApp({
    logger,
    readiness,
    trustProxy: config.TRUST_PROXY,
    metricsAllow: config.METRICS_ALLOW,
    bodyLimit: config.BODY_LIMIT.text,
    beforeBody: (app) => {
      app.use(allowedHosts(config.ALLOWED_HOSTS));
      app.use(
        helmet({
          // JSON only; the docs pages set their own policy.
          contentSecurityPolicy: {
            useDefaults: false,
            directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
          },
        }),
      );
      app.use(
        cors({
          origin: config.CORS_ORIGINS.length > 0 ? config.CORS_ORIGINS : false,
          credentials: true,
          exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location'],
          maxAge: 600,
        }),
      );
      app.use(
        admission({
          redis: deps.redis,
          prefix: config.REDIS_PREFIX,
          verifier: deps.verifier,
          perUserPerMinute: config.RATE_LIMIT_PER_USER_PER_MINUTE,
          perAddressPerMinute: config.RATE_LIMIT_PER_MINUTE,
          redisTimeoutMs: config.REDIS_TIMEOUT_MS,
          logger,
        }),
      );
      app.use(openApiRoutes(deps.openApi));
      app.use(tableRoutes);
      // Nothing under the gateway is parsed as a body: unknown routes end here.
      app.use(() => {
        throw new NotFoundError('route_not_found');
      });
    },
    mount: () => {},
  });
}

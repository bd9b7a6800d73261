import { env, infrastructureShape, loadConfig } from '@imm/config';
import { addressList, DEFAULT_METRICS_ALLOW } from '@imm/web';
import { z } from 'zod';

const { MODE, LOG_LEVEL, LOG_FORMAT, REDIS_URL, REDIS_PREFIX, REDIS_TIMEOUT_MS, AUTH_JWKS_URL, TRUSTED_PROXIES } =
  infrastructureShape;

const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** A size like `100kb`, `1mb` or `2048` (bytes), kept with its text for the 413 message. */
const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(text);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: 'use a size such as 100kb, 1mb or a number of bytes' });
        return z.NEVER;
      }
      const bytes = Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1);
      return { bytes, text: text.trim() };
    });

/** Origins as a browser sends them: scheme, host and port, nothing else. */
const originList = () =>
  env.list().superRefine((origins, ctx) => {
    for (const origin of origins) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {}
      if (!parsed || parsed.origin !== origin.replace(/\/$/, '')) {
        ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com` });
      }
    }
  });

/** Express `trust proxy`: true/false, a hop count, or a list of addresses and names. */
// The gateway is the edge: by default it believes X-Forwarded-For only from a proxy on its own
// host, so a client on the plant network cannot pick the address it is rate-limited under.
const trustProxy = z
  .string()
  .default('loopback')
  .transform((value): string | number | boolean => {
    if (value === 'true') return true;
    if (value === 'false') return false;
    if (/^\d+$/.test(value)) return Number(value);
    return value;
  });

/** Addresses and CIDR ranges that may read `/metrics` on the gateway's (public) port. */
const metricsAllow = env.list().transform((entries, ctx) => {
  try {
    return addressList(entries.length > 0 ? entries : DEFAULT_METRICS_ALLOW);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const gatewayShape = {
  MODE,
  LOG_LEVEL,
  LOG_FORMAT,
  REDIS_URL,
  REDIS_PREFIX,
  AUTH_JWKS_URL,
  PORT: env.port(8000),
  /** The gateway is the public port: every interface unless told otherwise. */
  HOST: z.string().min(1).default('0.0.0.0'),
  AUTH_URL: env.url('http://127.0.0.1:8001'),
  MACHINES_URL: env.url('http://127.0.0.1:8002'),
  OPERATIONS_URL: env.url('http://127.0.0.1:8003'),
  UPSTREAM_TIMEOUT_MS: env.int(30_000, 1),
  BODY_LIMIT: byteSize('100kb'),
  /** Requests per minute of one client address without a valid token. */
  RATE_LIMIT_PER_MINUTE: env.int(600, 1),
  /** Requests per minute of one signed-in user (an MES polling a few hundred machines every few seconds). */
  RATE_LIMIT_PER_USER_PER_MINUTE: env.int(6000, 1),
  REDIS_TIMEOUT_MS,
  CORS_ORIGINS: originList(),
  ALLOWED_HOSTS: env.list(),
  /** The proxies in front of the gateway (a load balancer, an Ingress controller); as the services read it. */
  TRUSTED_PROXIES,
  /** Express `trust proxy` as it is (true, a hop count, a list); when set it wins over TRUSTED_PROXIES. */
  TRUST_PROXY: trustProxy,
  /** An unknown key id refetches the JWKS at most this often (forged kids cannot flood auth). */
  JWKS_MIN_REFRESH_MS: env.int(5_000, 0),
  /** The merged OpenAPI document refetches the services' parts when older than this. */
  OPENAPI_REFRESH_MS: env.int(60_000, 1_000),
  METRICS_ALLOW: metricsAllow,
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
export type Upstream = 'auth' | 'machines' | 'operations';

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(gatewayShape, { requiredInRelease: ['CORS_ORIGINS', 'ALLOWED_HOSTS'], env: source });
  // The JWKS lives on the auth service: follow AUTH_URL unless the key URL was given on its own.
  const jwksUrl = source.AUTH_JWKS_URL?.trim()
    ? config.AUTH_JWKS_URL
    : new URL('/api/auth/jwks.json', config.AUTH_URL).toString();
  return {
    ...config,
    // One variable names the trusted proxies everywhere; TRUST_PROXY stays for older deployments.
    TRUST_PROXY: source.TRUST_PROXY?.trim() ? config.TRUST_PROXY : config.TRUSTED_PROXIES.join(', '),
    AUTH_JWKS_URL: jwksUrl,
    CORS_ORIGINS: config.CORS_ORIGINS.map((origin) => origin.replace(/\/$/, '')),
  };
}

export function upstreamUrls(config: GatewayConfig): Record<Upstream, string> {
  return { auth: config.AUTH_URL, machines: config.MACHINES_URL, operations: config.OPERATIONS_URL };
}

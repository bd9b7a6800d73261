import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every process reads its environment once, at start, through `loadConfig`. A wrong or missing
 * variable is reported on a line of its own, so an operator fixes them all in one go.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Mode = 'DEV' | 'RELEASE';

/** Building blocks for a process's environment schema. */
export const env = {
  mode: () => z.enum(['DEV', 'RELEASE']).default('DEV'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  number: (fallback: number, min = 0, max = Number.MAX_VALUE) => z.coerce.number().min(min).max(max).default(fallback),
  url: (fallback: string) => z.url().default(fallback),
  optionalString: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
  /** A comma-separated list; empty entries are dropped. */
  list: () =>
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
  name: (fallback: string) =>
    z
      .string()
      .regex(/^[A-Za-z0-9_]+$/, 'use only letters, digits and underscores')
      .default(fallback),
};

const PROXY_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** One entry of a trusted-proxy list: an address, a CIDR block, or one of express's names. */
function isProxyEntry(entry: string): boolean {
  if (PROXY_KEYWORDS.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  if (rest.length > 0 || isIP(address) === 0) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d{1,3}$/.test(bits) && prefix <= (isIP(address) === 4 ? 32 : 128);
}

/** Settings every process shares: where the servers are and how this run is named. */
export const infrastructureShape = {
  MODE: env.mode(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` lines (the default) or `pretty` readable ones; `npm start` picks pretty on a terminal. */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/imm'),
  REDIS_URL: env.url('redis://127.0.0.1:6379'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /**
   * Copies of each JetStream stream: 1 for a single NATS server, the cluster's size (3) on a NATS
   * cluster, so a stream survives a server's outage. Applied to existing streams at start too.
   */
  NATS_STREAM_REPLICAS: env.int(1, 1, 5),
  /** Prefixes stream names and subjects, so two deployments (or test runs) share one NATS safely. */
  BUS_PREFIX: env.name('imm'),
  /** Prefixes BullMQ and rate-limit keys in Redis, for the same reason. */
  REDIS_PREFIX: env.name('imm'),
  /**
   * The longest a request waits on Redis (rate limits, throttles, not-before marks); then each
   * use falls back as docs/security.md says, instead of hanging.
   */
  REDIS_TIMEOUT_MS: env.int(250, 10, 10_000),
  /**
   * The interface a service listens on. Only the gateway is meant to reach the services, so by
   * default they listen on loopback; a deployment where the gateway runs elsewhere sets 0.0.0.0.
   */
  HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Whose X-Forwarded-For a service believes (the gateway's address): a comma list of addresses,
   * CIDR blocks or `loopback`, `linklocal`, `uniquelocal`. A client that reaches a service directly
   * from anywhere else is throttled under its own address, whatever header it sends.
   */
  TRUSTED_PROXIES: env
    .list()
    .superRefine((entries, ctx) => {
      for (const entry of entries) {
        if (!isProxyEntry(entry)) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not an address, a CIDR block or loopback` });
        }
      }
    })
    .transform((entries) => (entries.length > 0 ? entries : ['loopback'])),
  /** Where the auth service publishes the public keys that verify tokens. */
  AUTH_JWKS_URL: env.url('http://127.0.0.1:8001/api/auth/jwks.json'),
};

type Shape = z.ZodRawShape;

interface LoadOptions<S extends Shape> {
  /** Variables that RELEASE must be given explicitly (their DEV defaults are not safe). */
  requiredInRelease?: (keyof S & string)[];
  env?: NodeJS.ProcessEnv;
}

export function loadConfig<S extends Shape>(shape: S, options: LoadOptions<S> = {}): z.infer<z.ZodObject<S>> {
  const source = options.env ?? process.env;
  const result = z.object(shape).safeParse(source);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const config = result.data as z.infer<z.ZodObject<S>> & { MODE?: Mode };
  if (config.MODE === 'RELEASE') {
    const missing = (options.requiredInRelease ?? []).filter((key) => {
      const raw = source[key];
      return raw === undefined || raw.trim() === '';
    });
    if (missing.length > 0) {
      throw new ConfigError(missing.map((key) => `${key}: required when MODE=RELEASE`));
    }
  }
  return config;
}

/** Prints a configuration error without a stack trace and exits, as a process's main should. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}

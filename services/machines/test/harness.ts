import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Bus, connectBus, streamNameOf } from '@imm/bus';
import type { EventEnvelope } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import { dropStreams, dropTestDatabase, testInfrastructure } from '@imm/testing';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { loadMachinesConfig } from '../src/config';
import { type RunningMachines, startMachines } from '../src/main';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies and events; the tests' expectations check their shape
export type Json = any;

export interface TestUser {
  id: number;
  username: string;
  isSuperuser?: boolean;
}

/** An ES256 signing key whose JWKS a tiny HTTP server publishes, as the auth service would. */
export interface TokenIssuer {
  jwksUrl: string;
  token(user: TestUser, overrides?: Record<string, unknown>): string;
  close(): Promise<void>;
}

export async function startTokenIssuer(): Promise<TokenIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  const jwk = { ...(publicKey as KeyObject).export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    token(user, overrides = {}) {
      const now = Math.floor(Date.now() / 1000);
      return jwt.sign(
        {
          token_type: 'access',
          iat: now,
          exp: now + 1800,
          jti: randomUUID(),
          user_id: user.id,
          username: user.username,
          is_staff: false,
          is_superuser: user.isSuperuser === true,
          ...overrides,
        },
        privateKey,
        { algorithm: 'ES256', keyid: kid },
      );
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Harness {
  machines: RunningMachines;
  base: string;
  issuer: TokenIssuer;
  databaseUrl: string;
  busPrefix: string;
  /** Runs SQL against the test database. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Every event recorded in the outbox, oldest first. */
  outbox(): Promise<EventEnvelope<Json>[]>;
  /** A bus connection of the test's own (same prefix), to publish other services' events and ask requests. */
  bus: Bus;
  /** Every event stored in the machines stream on NATS, oldest first. */
  published(): Promise<EventEnvelope<Json>[]>;
  close(): Promise<void>;
}

/** The machines service in-process, on port 0, with its own database and bus prefix. */
export async function startHarness(tag = 'machines', extraEnv: Record<string, string> = {}): Promise<Harness> {
  const infra = testInfrastructure(tag);
  const issuer = await startTokenIssuer();
  const config = loadMachinesConfig({
    DATABASE_URL: infra.DATABASE_URL,
    BUS_PREFIX: infra.BUS_PREFIX,
    REDIS_PREFIX: infra.REDIS_PREFIX,
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    AUTH_JWKS_URL: issuer.jwksUrl,
    PORT: '0',
    OUTBOX_INTERVAL_MS: '100',
    DB_POOL_MAX: '5',
    ...extraEnv,
  });
  const logger = createLogger('machines-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const machines = await startMachines(config, logger);
  const pool = new pg.Pool({ connectionString: infra.DATABASE_URL, max: 2 });
  const bus = await connectBus({ url: config.NATS_URL, prefix: infra.BUS_PREFIX, name: 'machines-test', logger });
  const stream = streamNameOf(infra.BUS_PREFIX, 'machines');
  return {
    bus,
    machines,
    base: `http://127.0.0.1:${machines.port}`,
    issuer,
    databaseUrl: infra.DATABASE_URL,
    busPrefix: infra.BUS_PREFIX,
    async sql<T>(text: string, params: unknown[] = []) {
      return (await pool.query(text, params)).rows as T[];
    },
    async outbox() {
      const rows = await pool.query('select payload from machines.outbox_message order by seq');
      return rows.rows.map((row) => row.payload);
    },
    async published() {
      const info = await bus.jsm.streams.info(stream);
      const found: EventEnvelope<Json>[] = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const msg = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (msg) found.push(JSON.parse(new TextDecoder().decode(msg.data)));
      }
      return found;
    },
    async close() {
      await machines.stop();
      await bus.close();
      await pool.end();
      await issuer.close();
      await dropTestDatabase(infra.DATABASE_URL);
      // The test's streams go with it; the shared NATS server keeps running.
      await dropStreams(config.NATS_URL, infra.BUS_PREFIX);
    },
  };
}

export interface ApiResponse<T = Json> {
  status: number;
  headers: Headers;
  body: T;
}

/** One API call; `token` undefined means anonymous. */
export async function call<T = Json>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

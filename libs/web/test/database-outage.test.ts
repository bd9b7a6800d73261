import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@imm/logging';
import { testInfrastructure } from '@imm/testing';
import express from 'express';
import knex from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, route } from '../src/index';

/**
 * Database outages as the drivers really report them reach the one error handler and answer
 * 503 DATABASEERROR, never 500 UNKNOWN.
 */
const POSTGRES = new URL(testInfrastructure('outage').DATABASE_URL);
POSTGRES.pathname = '/postgres';

/** A TCP proxy of the test's own in front of the shared Postgres, so it can be cut. */
async function startProxy(): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(POSTGRES.port || 5432), POSTGRES.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let proxy: Awaited<ReturnType<typeof startProxy>>;
let base: string;
let close: () => Promise<void>;
const failures: Record<string, () => Promise<unknown>> = {};

beforeAll(async () => {
  proxy = await startProxy();
  const app = createHttpApp({
    logger: createLogger('outage-test', 'silent'),
    readiness: {},
    mount: (a) => {
      const router = express.Router();
      for (const name of Object.keys(failures))
        route(router, `/${name}`, { get: async () => void (await failures[name]?.()) });
      a.use(router);
    },
  });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  await close?.();
  await proxy?.close();
});

// Registered before the app is built (the mount reads the names).
failures['pool-timeout'] = async () => {
  const db = knex({
    client: 'pg',
    connection: POSTGRES.toString(),
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 200,
  });
  try {
    await db.transaction(async () => {
      // The only connection is held by this transaction: the next query waits for the pool.
      await db.raw('select 1');
    });
  } finally {
    await db.destroy();
  }
};
failures['connection-terminated'] = async () => {
  const url = new URL(POSTGRES);
  url.port = String(proxy.port);
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => {});
  await client.connect();
  const running = client.query('select pg_sleep(5)');
  setTimeout(() => proxy.cut(), 100);
  try {
    await running;
  } finally {
    await client.end().catch(() => {});
  }
};
failures['too-many-connections'] = async () => {
  // What Postgres answers when max_connections is used up (SQLSTATE 53300), as pg reports it.
  const error = new pg.DatabaseError('sorry, too many clients already', 0, 'error');
  error.code = '53300';
  error.severity = 'FATAL';
  throw error;
};

describe('database outages', () => {
  for (const name of ['pool-timeout', 'connection-terminated', 'too-many-connections']) {
    it(`${name} → 503 DATABASEERROR with Retry-After`, async () => {
      const response = await fetch(`${base}/${name}`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toMatchObject({ status: 0, error_code: 10 });
    });
  }
});

import { Redis } from 'ioredis';
import { connect } from 'nats';
import pg from 'pg';
import { uniqueName } from './names';

const POSTGRES = 'postgres://postgres@127.0.0.1:5432';

export interface TestInfrastructure {
  DATABASE_URL: string;
  BUS_PREFIX: string;
  REDIS_PREFIX: string;
}

/**
 * Settings that isolate one test suite on the shared servers: its own database (created on first
 * open by @imm/db), its own NATS streams and subjects, and its own Redis keys.
 */
export function testInfrastructure(tag: string): TestInfrastructure {
  const name = uniqueName(tag);
  return {
    DATABASE_URL: `${POSTGRES}/imm_test_${name.slice(2)}`,
    BUS_PREFIX: name,
    REDIS_PREFIX: name,
  };
}

/** Drops a database made by `testInfrastructure`; refuses any other name, so a typo cannot drop `imm`. */
export async function dropTestDatabase(url: string): Promise<void> {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.slice(1));
  if (!/^imm_test_[a-z0-9_]+$/.test(database)) throw new Error(`not a test database: ${database}`);
  parsed.pathname = '/postgres';
  const client = new pg.Client({ connectionString: parsed.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${database}" with (force)`);
  } finally {
    await client.end();
  }
}

/** Runs one statement on a test database (a connection of its own, closed after). */
export async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Deletes a test's Redis keys; a Redis that is down (or a test's own, gone already) has none to delete. */
export async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // nothing to clean
  } finally {
    redis.disconnect();
  }
}

/** Deletes a test's JetStream streams (named after its BUS_PREFIX), its object stores' too. */
export async function dropStreams(url: string, prefix: string): Promise<void> {
  // A NATS of the test's own may be gone already; waiting to reconnect would hang the cleanup.
  const nats = await connect({ servers: url, reconnect: false, timeout: 2000 }).catch(() => undefined);
  if (!nats) return;
  try {
    const jsm = await nats.jetstreamManager();
    for await (const stream of jsm.streams.list()) {
      const name = stream.config.name;
      if (name.startsWith(`${prefix.toUpperCase()}_`) || name.startsWith(`OBJ_${prefix}_`)) {
        await jsm.streams.delete(name);
      }
    }
  } finally {
    await nats.close();
  }
}

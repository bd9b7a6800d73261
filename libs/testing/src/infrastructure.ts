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

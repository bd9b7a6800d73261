import { createHash } from 'node:crypto';
import pg from 'pg';

/** First half of every migration lock key, so our locks never collide with other advisory locks. */
const LOCK_NAMESPACE = 0x494d4d00 | 0; // "IMM\0"

function lockKey(schema: string): number {
  return createHash('sha256').update(schema).digest().readInt32BE(0);
}

/**
 * Runs `fn` while holding a session-level advisory lock for `schema`, on a connection of its own
 * (a pooled connection could be handed to someone else mid-way). If the process dies, Postgres
 * ends the session and releases the lock.
 */
export async function withSchemaLock<T>(
  url: string,
  schema: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const key = [LOCK_NAMESPACE, lockKey(schema)];
  try {
    await client.query('select pg_advisory_lock($1, $2)', key);
    try {
      return await fn(client);
    } finally {
      await client.query('select pg_advisory_unlock($1, $2)', key);
    }
  } finally {
    await client.end();
  }
}

import pg from 'pg';

/** The same server and credentials, but the `postgres` maintenance database (which always exists). */
export function maintenanceUrl(url: string): { url: string; database: string } {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new Error('DATABASE_URL must name a database');
  parsed.pathname = '/postgres';
  return { url: parsed.toString(), database };
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Creates the database if it is missing. Several processes may start at once: a concurrent
 * CREATE DATABASE fails with duplicate_database (42P04) or, when both passed the catalog check at
 * the same moment, a unique violation on pg_database; either means it exists now.
 */
export async function ensureDatabaseExists(url: string): Promise<void> {
  const { url: adminUrl, database } = maintenanceUrl(url);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount) return;
    try {
      await client.query(`create database ${quoteIdentifier(database)}`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw error;
    }
  } finally {
    await client.end();
  }
}

/** Drops the database, disconnecting whoever still uses it. Meant for tests. */
export async function dropDatabase(url: string): Promise<void> {
  const { url: adminUrl, database } = maintenanceUrl(url);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${quoteIdentifier(database)} with (force)`);
  } finally {
    await client.end();
  }
}

export { quoteIdentifier };

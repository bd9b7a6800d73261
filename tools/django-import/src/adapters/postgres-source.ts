import pg from 'pg';
import type { OldData, OldLayout } from '../domain/old-rows';
import { SourceError } from './source-error';

/** The old service's tables; users are in `accounts`, or in Django's `auth_user` (the other layout). */
const TABLES = { machines: 'injection_molding_machines', history: 'machines_history' } as const;
const USER_TABLES = { accounts: 'accounts', auth_user: 'auth_user' } as const;

const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const INT8 = 20;

/**
 * Timestamps as the text Postgres writes (the session is in UTC), so a column without a time zone
 * is not read in this machine's zone; bigint ids as numbers.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP || oid === TIMESTAMPTZ) return (value: string) => value;
    if (oid === INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Reads the old service's tables from its database (read only; nothing there changes). */
export async function readDjangoDatabase(url: string): Promise<OldData> {
  const client = new pg.Client({ connectionString: url, types, connectionTimeoutMillis: 10_000 });
  const where = (() => {
    try {
      const parsed = new URL(url);
      return `${parsed.host}${parsed.pathname}`;
    } catch {
      return 'the source database';
    }
  })();
  try {
    await client.connect();
  } catch (error) {
    throw new SourceError(`cannot connect to ${where}: ${(error as Error).message}`);
  }
  try {
    await client.query("set time zone 'UTC'");
    await client.query('begin transaction read only isolation level repeatable read');
    const exists = async (table: string) =>
      (await client.query('select to_regclass($1) is not null as found', [table])).rows[0]?.found === true;
    const layout: OldLayout | undefined = (await exists(USER_TABLES.accounts))
      ? 'accounts'
      : (await exists(USER_TABLES.auth_user))
        ? 'auth_user'
        : undefined;
    if (!layout) throw new SourceError(`${where} has no table accounts (nor auth_user): is it the Django service's?`);
    const data: OldData = { layout, users: [], machines: [], history: [], ignored: {} };
    data.users = (await client.query(`select * from ${USER_TABLES[layout]} order by id`)).rows;
    for (const [kind, table] of Object.entries(TABLES) as [keyof typeof TABLES, string][]) {
      if (!(await exists(table))) throw new SourceError(`${where} has no table ${table}: is it the Django service's?`);
      data[kind] = (await client.query(`select * from ${table} order by id`)).rows;
    }
    await client.query('commit');
    return data;
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`cannot read ${where}: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

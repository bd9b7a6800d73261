import type { QueryResult, QueryResultRow } from 'pg';
import type { Database } from './open-database';

/** A connection of the service's pool, as node-postgres gives it. */
interface PgConnection {
  query<R extends QueryResultRow>(config: { text: string; values?: unknown[]; name?: string }): Promise<QueryResult<R>>;
  query(text: string): Promise<QueryResult | QueryResult[]>;
}

interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

function knexClientOf(orm: Database): KnexClient {
  return (orm.em.getConnection().getKnex() as unknown as { client: KnexClient }).client;
}

/** Runs `work` on one connection of the ORM's own pool (no second pool), released afterwards. */
export async function withConnection<T>(orm: Database, work: (connection: PgConnection) => Promise<T>): Promise<T> {
  const client = knexClientOf(orm);
  const connection = await client.acquireConnection();
  try {
    return await work(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * One statement straight on node-postgres, without the ORM's query building: for the reads that
 * run on every request. A `name` makes Postgres parse and plan it once per connection; give one
 * only to a statement whose text never changes.
 */
export async function sqlQuery<R extends QueryResultRow>(
  orm: Database,
  text: string,
  values: unknown[],
  name?: string,
): Promise<R[]> {
  return withConnection(
    orm,
    async (connection) => (await connection.query<R>({ text, values, ...(name && { name }) })).rows,
  );
}

export interface SqlTransaction {
  /**
   * Statements without parameters (only integers the caller checked, written into the text), sent
   * together in one round trip; the first call also carries the BEGIN. Rows of each, in order.
   */
  batch(statements: string[]): Promise<QueryResultRow[][]>;
  /** One statement with parameters; rows. */
  query<R extends QueryResultRow>(text: string, values: unknown[], name?: string): Promise<R[]>;
}

/**
 * A transaction on raw node-postgres, in as few round trips as the work allows: BEGIN travels with
 * the first batch of statements, and each `query` is one round trip. MikroORM's `transactional`
 * sends BEGIN, every statement and COMMIT each on its own, which is what a hot path cannot afford
 * when every round trip waits for the event loop on both ends. COMMIT on success, ROLLBACK on a
 * throw.
 */
export async function sqlTransaction<T>(orm: Database, work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
  return withConnection(orm, async (connection) => {
    let begun = false;
    const begin = async () => {
      if (!begun) await connection.query('begin');
      begun = true;
    };
    const tx: SqlTransaction = {
      async batch(statements) {
        const text = [...(begun ? [] : ['begin']), ...statements].join(';\n');
        begun = true;
        const results = await connection.query(text);
        const all = Array.isArray(results) ? results : [results];
        return all.slice(all.length - statements.length).map((result) => result.rows);
      },
      async query<R extends QueryResultRow>(text: string, values: unknown[], name?: string) {
        await begin();
        return (await connection.query<R>({ text, values, ...(name && { name }) })).rows;
      },
    };
    try {
      const result = await work(tx);
      if (begun) await connection.query('commit');
      return result;
    } catch (error) {
      if (begun) {
        await connection.query('rollback').catch((rollbackError: unknown) => {
          // A connection that cannot roll back must not go back to the pool mid-transaction:
          // marked as knex marks a broken one, the pool destroys it instead of reusing it.
          (connection as { __knex__disposed?: unknown }).__knex__disposed = rollbackError;
        });
      }
      throw error;
    }
  });
}

/**
 * A timestamptz column of a row read through `sqlQuery`/`sqlTransaction`: MikroORM's type parsers
 * leave it as Postgres's text (`2026-01-02 03:04:05.678+00`), a plain pg client gives a Date.
 */
export function timestampOf(value: string | Date): Date {
  if (value instanceof Date) return value;
  const date = new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  if (Number.isNaN(date.getTime())) throw new Error(`unexpected timestamp from the database: ${value}`);
  return date;
}

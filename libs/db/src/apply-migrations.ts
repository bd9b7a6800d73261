import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import type { Logger } from '@imm/logging';
import { quoteIdentifier } from './database-admin';
import { Migration, type MigrationObject } from './migration';

/** Where MikroORM records applied migrations: inside the service's schema, never in `public`. */
export const MIGRATIONS_TABLE = 'mikro_orm_migrations';

interface Listed {
  name: string;
  statements: string[];
}

/** What the thread reports: MikroORM's log lines, then what it applied or why it failed. */
interface ThreadMessage {
  log?: string;
  applied?: string[];
  error?: { message: string; stack?: string };
}

// CommonJS evaluated in the thread: MikroORM's migrator (umzug and the ~160 modules it brings)
// loads there and is gone with the thread, instead of staying loaded in the service for good.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { MikroORM } = require(workerData.postgresql);
const { Migrator, Migration } = require(workerData.migrator);
const { url, schema, tableName, listed } = workerData;
const migrationsList = listed.map(({ name, statements }) => ({
  name,
  class: class extends Migration {
    up() { for (const sql of statements) this.addSql(sql); }
  },
}));
(async () => {
  const orm = await MikroORM.init({
    clientUrl: url,
    schema,
    entities: [],
    discovery: { warnWhenNoEntities: false },
    // Unqualified names in the migrations' SQL resolve to the schema; public stays for extensions.
    driverOptions: { searchPath: [schema, 'public'] },
    pool: { min: 0, max: 1 },
    ensureDatabase: false,
    extensions: [Migrator],
    migrations: { migrationsList, tableName, transactional: true, allOrNothing: true, snapshot: false },
    debug: false,
    colors: false,
    logger: (message) => parentPort.postMessage({ log: message }),
  });
  try {
    const applied = await orm.migrator.up();
    parentPort.postMessage({ applied: applied.map((m) => m.name) });
  } finally {
    await orm.close(true);
  }
})().catch((error) => parentPort.postMessage({ error: { message: String((error && error.message) || error), stack: error && error.stack } }));`;

/**
 * Applies the pending migrations of `schema` (all pending in one transaction), on a thread that
 * ends with them; nothing is started when every one is applied already. The caller holds the
 * schema's migration lock on `client`, so replicas starting together migrate once.
 */
export async function applyMigrations(
  client: pg.Client,
  options: { url: string; schema: string; migrations: MigrationObject[]; logger: Logger },
): Promise<string[]> {
  const { url, schema, migrations, logger } = options;
  const tableName = `${schema}.${MIGRATIONS_TABLE}`;
  const applied = await appliedNames(client, schema);
  if (migrations.every((m) => applied.has(m.name))) return [];
  const listed: Listed[] = migrations.map((m) => ({ name: m.name, statements: Migration.statementsOf(new m.class()) }));
  const require = createRequire(import.meta.url);
  const workerData = {
    postgresql: require.resolve('@mikro-orm/postgresql'),
    migrator: require.resolve('@mikro-orm/migrations'),
    url,
    schema,
    tableName,
    listed,
  };
  return new Promise<string[]>((resolve, reject) => {
    const thread = new Worker(THREAD_SOURCE, { eval: true, workerData });
    let outcome: ThreadMessage | undefined;
    thread.on('message', (message: ThreadMessage) => {
      if (message.log !== undefined) return logger.info({ component: 'mikro-orm' }, message.log);
      outcome = message;
      // Its connection is closed by now; whatever else might keep its loop alive must not hold the start.
      void thread.terminate();
    });
    thread.on('error', (error) => {
      outcome ??= { error: { message: error.message, stack: error.stack } };
    });
    thread.on('exit', () => {
      if (outcome?.applied) return resolve(outcome.applied);
      const error = new Error(`migrations of ${schema}: ${outcome?.error?.message ?? 'the migration thread exited'}`);
      if (outcome?.error?.stack) error.stack = outcome.error.stack;
      reject(error);
    });
  });
}

/** The names recorded in the schema's bookkeeping table (none before the first migration). */
async function appliedNames(client: pg.Client, schema: string): Promise<Set<string>> {
  const table = `${quoteIdentifier(schema)}.${quoteIdentifier(MIGRATIONS_TABLE)}`;
  const { rows } = await client.query<{ exists: boolean }>('select to_regclass($1) is not null as exists', [table]);
  if (!rows[0]?.exists) return new Set();
  const names = await client.query<{ name: string }>(`select name from ${table}`);
  return new Set(names.rows.map((row) => row.name));
}

import type { MikroORM as CoreMikroORM } from '@mikro-orm/core';
import { type EntitySchema, MikroORM, type PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Logger } from '@imm/logging';
import { applyMigrations } from './apply-migrations';
import { ensureDatabaseExists, quoteIdentifier } from './database-admin';
import type { MigrationObject } from './migration';
import { withSchemaLock } from './migration-lock';

export interface DatabaseOptions {
  /** Postgres URL including the database name, e.g. postgres://postgres@127.0.0.1:5432/imm */
  url: string;
  /** The service's own Postgres schema, e.g. 'auth'. */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: a list of schemas of different entity types
  entities: EntitySchema<any, any>[];
  /** Applied in this order; names are what the bookkeeping table records, so never rename one. */
  migrations: MigrationObject[];
  logger: Logger;
  poolMax?: number;
}

/** The ORM of one service's database; `orm.em` is a SqlEntityManager bound to the service's schema. */
export type Database = CoreMikroORM<PostgreSqlDriver>;

/**
 * Opens the service's database: creates the database and schema when missing and applies pending
 * migrations, serialized across processes by an advisory lock, so replicas may start together.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { url, schema, logger } = options;
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  await ensureDatabaseExists(url);
  return withSchemaLock(url, schema, async (client) => {
    await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
    const applied = await applyMigrations(client, { url, schema, migrations: options.migrations, logger });
    if (applied.length > 0) logger.info({ schema, migrations: applied }, 'migrations applied');
    return MikroORM.init<PostgreSqlDriver>({
      clientUrl: url,
      // Unqualified names in entities' queries resolve to this schema...
      schema,
      entities: options.entities,
      discovery: { warnWhenNoEntities: false },
      // ...and so do unqualified names in raw SQL. `public` stays on the path for extensions' types
      // and functions.
      driverOptions: { searchPath: [schema, 'public'] },
      pool: { min: 0, max: options.poolMax ?? 10 },
      // The database exists already (created above, race-safely).
      ensureDatabase: false,
      debug: false,
      colors: false,
      logger: (message) => logger.info({ component: 'mikro-orm' }, message),
    });
  });
}

/** Readiness probe: one round trip through the pool. */
export async function checkDatabase(orm: Database): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}

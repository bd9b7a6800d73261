export { checkDatabase, type Database, type DatabaseOptions, MIGRATIONS_TABLE, openDatabase } from './open-database';
export { dropDatabase, ensureDatabaseExists } from './database-admin';
export { executeBound } from './bound-statement';
export { isConnectionError, isUniqueViolation } from './errors';
export { Migration } from '@mikro-orm/migrations';
export type { MigrationObject } from '@mikro-orm/core';
export {
  defineEntity,
  EntitySchema,
  type EntityManager,
  type PostgreSqlDriver,
  type InferEntity,
} from '@mikro-orm/postgresql';
export { type SqlTransaction, sqlQuery, sqlTransaction, timestampOf, withConnection } from './round-trips';
export { continueIdsAfterMax, importTransaction, type RecordedEvents } from './import-transaction';

export { checkDatabase, type Database, type DatabaseOptions, openDatabase } from './open-database';
export { MIGRATIONS_TABLE } from './apply-migrations';
export { dropDatabase, ensureDatabaseExists } from './database-admin';
export { executeBound } from './bound-statement';
export { isConnectionError, isUniqueViolation } from './errors';
export { Migration, type MigrationObject } from './migration';
export {
  defineEntity,
  EntitySchema,
  type EntityManager,
  type PostgreSqlDriver,
  type InferEntity,
} from '@mikro-orm/postgresql';
export { type SqlTransaction, sqlQuery, sqlTransaction, timestampOf, withConnection } from './round-trips';
export { continueIdsAfterMax, importTransaction, type RecordedEvents } from './import-transaction';

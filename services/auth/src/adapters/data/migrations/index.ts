import type { MigrationObject } from '@imm/db';
import { Initial } from './0001-initial';
import { ImportedUsers } from './0002-imported-users';

/** Applied in this order; the names are recorded in the database, so a name never changes. */
export const migrations: MigrationObject[] = [
  { name: '0001_initial', class: Initial },
  { name: '0002_imported_users', class: ImportedUsers },
];

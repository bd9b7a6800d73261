import type { MigrationObject } from '@imm/db';
import { CreateOperations } from './0001-operations';
import { ImportedHistory } from './0002-imported-history';

/** Applied in this order; a name, once released, never changes. */
export const migrations: MigrationObject[] = [
  { name: '0001_operations', class: CreateOperations },
  { name: '0002_imported_history', class: ImportedHistory },
];

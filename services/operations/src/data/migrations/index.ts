import type { MigrationObject } from '@imm/db';
import { CreateOperations } from './0001-operations';
import { HistoryCounts } from './0002-history-counts';

/** Applied in this order; a name, once released, never changes. */
export const migrations: MigrationObject[] = [
  { name: '0001_operations', class: CreateOperations },
  { name: '0002_history_counts', class: HistoryCounts },
];

import type { MigrationObject } from '@imm/db';
import { CreateOperations } from './0001-operations';
import { HistoryCounts } from './0002-history-counts';
import { ImportedHistory } from './0003-imported-history';
import { CreateMachineWatch } from './0004-machine-watch';
import { DriveLease } from './0005-drive-lease';
import { KeptDecision } from './0006-kept-decision';

/** Applied in this order; a name, once released, never changes. */
export const migrations: MigrationObject[] = [
  { name: '0001_operations', class: CreateOperations },
  { name: '0002_history_counts', class: HistoryCounts },
  { name: '0003_imported_history', class: ImportedHistory },
  { name: '0004_machine_watch', class: CreateMachineWatch },
  { name: '0005_drive_lease', class: DriveLease },
  { name: '0006_kept_decision', class: KeptDecision },
];

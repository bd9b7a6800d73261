import type { MigrationObject } from '@imm/db';
import { Messaging } from './0001_messaging';
import { Machines } from './0002_machines';
import { ImportedMachines } from './0003_imported_machines';

/** Applied in this order; a name is what the bookkeeping table records, so never rename one. */
export const migrations: MigrationObject[] = [
  { name: '0001_messaging', class: Messaging },
  { name: '0002_machines', class: Machines },
  { name: '0003_imported_machines', class: ImportedMachines },
];

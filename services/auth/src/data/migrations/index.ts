import type { MigrationObject } from '@imm/db';
import { Initial } from './0001-initial';

/** Applied in this order; the names are recorded in the database, so a name never changes. */
export const migrations: MigrationObject[] = [{ name: '0001_initial', class: Initial }];

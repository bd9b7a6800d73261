import { MAX_ID } from '@imm/contracts';
import { timestampOf } from '@imm/db';
import type { Machine, MachineStatusValue } from '../../domain/machine';

/** A row of `machine` as the driver returns it: MikroORM leaves timestamps and bigints as strings. */
export interface MachineRecord {
  id: number;
  name: string;
  location: string;
  status: number;
  owner_id: number;
  endpoint: string | null;
  created_at: string;
  updated_at: string;
  last_operation_id: string | null;
}

export function machineOf(row: MachineRecord): Machine {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    status: row.status as MachineStatusValue,
    ownerId: row.owner_id,
    endpoint: row.endpoint,
    createdAt: timestampOf(row.created_at),
    updatedAt: timestampOf(row.updated_at),
    lastOperationId: row.last_operation_id === null ? null : Number(row.last_operation_id),
  };
}

/** Ids outside the `integer` column's range cannot exist; asking Postgres would only raise an error. */
export const storable = (id: number) => Number.isSafeInteger(id) && id >= 1 && id <= MAX_ID;

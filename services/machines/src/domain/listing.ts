import type { PageRequest } from '@imm/contracts';
import type { MachineStatusValue } from './machine';

export const orderFields = ['id', 'name', 'status', 'created_at', 'updated_at'] as const;
export type OrderField = (typeof orderFields)[number];

export interface MachineFilter {
  status?: MachineStatusValue;
  ownerId?: number;
  /** Case-insensitive substring of name or location, matched literally (no wildcards). */
  search?: string;
}

export interface Ordering {
  field: OrderField;
  descending: boolean;
}

export interface ListRequest extends PageRequest {
  filter: MachineFilter;
  ordering: Ordering;
}

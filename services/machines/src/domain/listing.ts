import { NotFoundError } from '@imm/web';
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

export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

export interface ListRequest {
  filter: MachineFilter;
  ordering: Ordering;
  /** 1-based, or `last` (as Django's paginator allows). */
  page: number | 'last';
  pageSize: number;
}

export interface PageOf<T> {
  count: number;
  page: number;
  pageSize: number;
  hasNext: boolean;
  hasPrevious: boolean;
  items: T[];
}

/** The number of pages: an empty list still has its first page. */
export function pageCount(count: number, pageSize: number): number {
  return Math.max(1, Math.ceil(count / pageSize));
}

/** A page past the end is a 404, as Django's paginator says "Invalid page". */
export function checkPage(page: number, count: number, pageSize: number): void {
  if (page > pageCount(count, pageSize)) throw new NotFoundError();
}

export function offsetOf(page: number, pageSize: number): number {
  return (page - 1) * pageSize;
}

export function pageOf<T>(items: T[], count: number, page: number, pageSize: number): PageOf<T> {
  return { count, page, pageSize, items, hasPrevious: page > 1, hasNext: page < pageCount(count, pageSize) };
}

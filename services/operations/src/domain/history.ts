import type { OperationResultValue } from '@imm/contracts';
import { NotFoundError } from '@imm/web';
import type { Command } from './commands';

/** A command someone asked for and what came of it. */
export interface HistoryEntry {
  id: number;
  requestDatetime: Date;
  command: Command;
  /** The user who asked. */
  worker: number;
  machineId: number;
  machineOwnerId: number;
  result: OperationResultValue;
  createdAt: Date;
  finishedAt: Date | null;
  message: string | null;
  /** The machine's endpoint when the command was accepted. */
  endpoint: string | null;
  requestId: string | null;
}

export type NewEntry = Omit<HistoryEntry, 'id' | 'createdAt' | 'finishedAt'>;

export interface HistoryFilter {
  /** Entries this user asked for or whose machine they owned. */
  involvedUserId?: number;
  machineId?: number;
  command?: Command;
  result?: OperationResultValue;
  /** request_datetime ≥ since */
  since?: Date;
  /** request_datetime ≤ until */
  until?: Date;
}

export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
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

/** Resolves `last` and refuses a page past the end with 404, as Django's paginator says "Invalid page". */
export function resolvePage(request: PageRequest, count: number): number {
  const pages = pageCount(count, request.pageSize);
  const page = request.page === 'last' ? pages : request.page;
  if (page > pages) throw new NotFoundError();
  return page;
}

export function pageOf<T>(items: T[], count: number, page: number, pageSize: number): PageOf<T> {
  return { count, page, pageSize, items, hasPrevious: page > 1, hasNext: page < pageCount(count, pageSize) };
}

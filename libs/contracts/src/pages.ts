import { NotFoundError } from '@imm/errors';

/**
 * Pages as Django REST framework's PageNumberPagination counted them: plain values and functions,
 * so the use cases that page a list need nothing of HTTP (the query and the `{count, next,
 * previous, results}` body are `@imm/web`'s).
 */

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

export function offsetOf(page: number, pageSize: number): number {
  return (page - 1) * pageSize;
}

export function pageOf<T>(items: T[], count: number, page: number, pageSize: number): PageOf<T> {
  return { count, page, pageSize, items, hasPrevious: page > 1, hasNext: page < pageCount(count, pageSize) };
}

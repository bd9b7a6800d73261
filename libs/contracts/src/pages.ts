import { NotFoundError } from '@imm/errors';

// Pages of a list as the API serves them (Django REST framework's PageNumberPagination): plain
// values and arithmetic, shared by the services' use cases. Reading `?page=`/`?page_size=` and
// writing `{count, next, previous, results}` is HTTP, and stays in @imm/web.

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

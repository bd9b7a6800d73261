import type { Request } from 'express';
import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type PageOf, type PageRequest } from '@imm/contracts';
import { NotFoundError } from '@imm/errors';

// Pages as Django REST framework's PageNumberPagination served them: `?page=` and `?page_size=`,
// `{count, next, previous, results}` with absolute links.

// ---- pages: declared in @imm/contracts, for domain code; re-exported for the edge -----------------

export {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  offsetOf,
  type PageOf,
  type PageRequest,
  pageCount,
  pageOf,
  resolvePage,
} from '@imm/contracts';

// ---- the query ------------------------------------------------------------------------------------

/** `?page=1&page=2` reads as the last value (Django's QueryDict.get); empty values as absent. */
export function singleValues(query: Request['query']): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, raw] of Object.entries(query)) {
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (typeof value === 'string' && value !== '') values[key] = value;
  }
  return values;
}

const MAX_PAGE = 2_147_483_647;

/** Django's paginator: a positive integer or `last`; anything else is "Invalid page", a 404. */
export function pageNumber(raw: string | undefined): number | 'last' {
  if (raw === undefined) return 1;
  if (raw === 'last') return 'last';
  if (!/^[0-9]{1,10}$/.test(raw)) throw new NotFoundError();
  const page = Number(raw);
  if (page < 1 || page > MAX_PAGE) throw new NotFoundError();
  return page;
}

/** The `page` and `page_size` fields of a list's query schema. */
export const pageQueryFields = {
  page: z
    .string()
    .optional()
    .meta({ description: '1-based page number, or `last`; a page past the end (or not a number) is 404' }),
  page_size: z
    .string()
    .regex(/^[0-9]+$/, { error: 'invalid_integer' })
    .transform((value) => Math.min(Number(value), MAX_PAGE_SIZE))
    .pipe(z.int().min(1))
    .optional()
    .meta({
      description: `Results per page: default ${DEFAULT_PAGE_SIZE}, larger than ${MAX_PAGE_SIZE} means ${MAX_PAGE_SIZE}`,
    }),
};

/** The page a validated query asks for; a `page` that is no page number is a 404. */
export function pageRequestOf(query: { page?: string; page_size?: number }): PageRequest {
  return { page: pageNumber(query.page), pageSize: query.page_size ?? DEFAULT_PAGE_SIZE };
}

// ---- the response ---------------------------------------------------------------------------------

/** A page of `item`s as the OpenAPI document describes it. */
export function paginatedSchemaOf<T extends z.ZodType>(item: T, names: { id: string; count: string }) {
  return z
    .object({
      count: z.int().meta({ description: names.count }),
      next: z.url().nullable().meta({ description: 'Absolute URL of the next page, or null' }),
      previous: z.url().nullable().meta({ description: 'Absolute URL of the previous page, or null' }),
      results: z.array(item),
    })
    .meta({ id: names.id });
}

/**
 * Links to other pages, absolute like Django REST framework's, built from the host and scheme the
 * client used (X-Forwarded-Host/-Proto from the gateway, which express trusts from private
 * addresses only). Page 1's link has no `page` parameter.
 */
function pageLink(req: Request, page: number | null): string | null {
  if (page === null) return null;
  const url = new URL(req.originalUrl, `${req.protocol}://${req.host ?? 'localhost'}`);
  if (page === 1) url.searchParams.delete('page');
  else url.searchParams.set('page', String(page));
  return url.toString();
}

/** The `{count, next, previous, results}` body of a page, each item shown through `view`. */
export function pageView<T, V>(req: Request, page: PageOf<T>, view: (item: T) => V) {
  return {
    count: page.count,
    next: pageLink(req, page.hasNext ? page.page + 1 : null),
    previous: pageLink(req, page.hasPrevious ? page.page - 1 : null),
    results: page.items.map(view),
  };
}

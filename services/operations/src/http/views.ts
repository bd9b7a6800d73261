import { NotFoundError } from '@imm/web';
import type { Request } from 'express';
import type { z } from 'zod';
import type { HistoryEntry, PageOf } from '../domain/history';
import type { historyEntrySchema } from './schemas';

export type HistoryEntryView = z.infer<typeof historyEntrySchema>;

/** An entry as clients see it (the endpoint snapshot and request id stay inside). */
export function entryView(entry: HistoryEntry): HistoryEntryView {
  return {
    id: entry.id,
    request_datetime: entry.requestDatetime.toISOString(),
    command: entry.command,
    worker: entry.worker,
    machine_id: entry.machineId,
    machine_owner_id: entry.machineOwnerId,
    result: entry.result,
    created_at: entry.createdAt.toISOString(),
    finished_at: entry.finishedAt?.toISOString() ?? null,
    message: entry.message,
  };
}

export function entryLocation(entry: HistoryEntry): string {
  return `/api/machines/${entry.machineId}/history/${entry.id}/`;
}

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

/**
 * Links to other pages, absolute like Django REST framework's (and the machines list), built from
 * the host and scheme the client used. Page 1's link has no `page` parameter.
 */
function pageLink(req: Request, page: number | null): string | null {
  if (page === null) return null;
  const url = new URL(req.originalUrl, `${req.protocol}://${req.host ?? 'localhost'}`);
  if (page === 1) url.searchParams.delete('page');
  else url.searchParams.set('page', String(page));
  return url.toString();
}

export function pageView(req: Request, page: PageOf<HistoryEntry>) {
  return {
    count: page.count,
    next: pageLink(req, page.hasNext ? page.page + 1 : null),
    previous: pageLink(req, page.hasPrevious ? page.page - 1 : null),
    results: page.items.map(entryView),
  };
}

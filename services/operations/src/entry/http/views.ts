import type { z } from 'zod';
import type { DecidedEntry } from '../../domain/command-decision';
import type { historyEntrySchema } from './schemas';

export type HistoryEntryView = z.infer<typeof historyEntrySchema>;

/** An entry as clients see it (the endpoint snapshot and request id stay inside). */
export function entryView(entry: DecidedEntry): HistoryEntryView {
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

export function entryLocation(entry: Pick<DecidedEntry, 'id' | 'machineId'>): string {
  return `/api/machines/${entry.machineId}/history/${entry.id}/`;
}

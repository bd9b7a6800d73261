import { type Bus, readTransfer, serveRequests } from '@imm/bus';
import { encodeImportReply, historyImportPartSchema } from '@imm/contracts';
import { type HistoryImportStore, importHistory } from '../../domain/import-history';

/**
 * The operations service's import entry point (in the API process): answers
 * `operations.import.history` from the Django import tool with the history part it left in the
 * transfer store, checked or written in one transaction.
 */
export function serveImportHistory(bus: Bus, store: HistoryImportStore): { stop(): Promise<void> } {
  return serveRequests(bus, 'operations.import.history', async ({ run_id, part, apply }) => {
    const parsed = historyImportPartSchema.safeParse(await readTransfer(bus, part));
    if (!parsed.success) {
      const conflict = `the history part ${part} is missing or malformed: ${parsed.error.message}`;
      return { imported: [], present: [], skipped: [], conflicts: [conflict] };
    }
    return encodeImportReply(await importHistory(store, { runId: run_id, entries: parsed.data.entries, apply }));
  });
}

import type { ImportedHistoryEntry, ImportOutcome } from '@imm/contracts';

/** What the history holds that an import's entries could collide with. */
export interface HeldEntries {
  /** Entries' ids that one of our commands has. */
  takenIds: Set<number>;
  /** Ids an earlier import wrote. */
  importedIds: Set<number>;
}

/**
 * Every history entry of the old service is written, there already (an earlier run), or a conflict:
 * its id is one of our commands', and ids are kept.
 */
export function planHistoryImport(
  rows: ImportedHistoryEntry[],
  held: HeldEntries,
): { reply: ImportOutcome; inserts: ImportedHistoryEntry[] } {
  const reply: ImportOutcome = { imported: [], present: [], skipped: [], conflicts: [] };
  const inserts: ImportedHistoryEntry[] = [];
  const seen = new Set<number>();
  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    if (seen.has(row.id)) {
      reply.conflicts.push(`two history entries have the id ${row.id}`);
      continue;
    }
    seen.add(row.id);
    if (held.importedIds.has(row.id)) reply.present.push(row.id);
    else if (held.takenIds.has(row.id)) reply.conflicts.push(`history id ${row.id} is taken by one of our commands`);
    else {
      reply.imported.push(row.id);
      inserts.push(row);
    }
  }
  return { reply, inserts };
}

/** The history's side of an import: reads and writes inside one transaction. */
export interface HistoryImportTransaction {
  held(ids: number[]): Promise<HeldEntries>;
  insertEntries(rows: ImportedHistoryEntry[]): Promise<void>;
  /** New commands get ids after the highest one. */
  continueIds(): Promise<void>;
  recordImported(runId: string, ids: number[]): void;
}

export interface HistoryImportStore {
  /** One transaction, serialized with other imports; rolled back when `work` throws. */
  transaction<T>(work: (tx: HistoryImportTransaction) => Promise<T>): Promise<T>;
}

/**
 * Checks (`apply: false`) or writes (`apply: true`) the history part, all or nothing. Imported
 * entries keep their results and publish no `operations.operation.*` events, only the run's summary.
 */
export async function importHistory(
  store: HistoryImportStore,
  input: { runId: string; entries: ImportedHistoryEntry[]; apply: boolean },
): Promise<ImportOutcome> {
  return store.transaction(async (tx) => {
    const plan = planHistoryImport(input.entries, await tx.held(input.entries.map((e) => e.id)));
    if (!input.apply || plan.reply.conflicts.length > 0 || plan.inserts.length === 0) return plan.reply;
    await tx.insertEntries(plan.inserts);
    await tx.continueIds();
    tx.recordImported(input.runId, plan.reply.imported);
    return plan.reply;
  });
}

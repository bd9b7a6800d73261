import type { ImportedMachine, ImportOutcome } from '@imm/contracts';

/** What the machine table holds that an import's rows could collide with. */
export interface HeldMachines {
  /** Rows' ids that a machine of ours has. */
  takenIds: Set<number>;
  /** Ids an earlier import wrote (the machine may have changed or been deleted since). */
  importedIds: Set<number>;
}

/**
 * Every machine of the old service is written, there already (an earlier run), or a conflict: its
 * id is another machine's, and ids are kept (history and clients refer to them).
 */
export function planMachineImport(
  rows: ImportedMachine[],
  held: HeldMachines,
): { reply: ImportOutcome; inserts: ImportedMachine[] } {
  const reply: ImportOutcome = { imported: [], present: [], skipped: [], conflicts: [] };
  const inserts: ImportedMachine[] = [];
  const seen = new Set<number>();
  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    if (seen.has(row.id)) {
      reply.conflicts.push(`two machines have the id ${row.id}`);
      continue;
    }
    seen.add(row.id);
    if (held.importedIds.has(row.id)) reply.present.push(row.id);
    else if (held.takenIds.has(row.id))
      reply.conflicts.push(`machine id ${row.id} (${row.name}) is taken by one of ours`);
    else {
      reply.imported.push(row.id);
      inserts.push(row);
    }
  }
  return { reply, inserts };
}

/** The machine table's side of an import: reads and writes inside one transaction. */
export interface MachineImportTransaction {
  held(ids: number[]): Promise<HeldMachines>;
  insertMachines(rows: ImportedMachine[], runId: string): Promise<void>;
  /** New machines get ids after the highest one. */
  continueIds(): Promise<void>;
  recordImported(runId: string, ids: number[]): void;
}

export interface MachineImportStore {
  /** One transaction, serialized with other imports; rolled back when `work` throws. */
  transaction<T>(work: (tx: MachineImportTransaction) => Promise<T>): Promise<T>;
}

/**
 * Checks (`apply: false`) or writes (`apply: true`) the machines part, all or nothing. Imported
 * machines publish no `machines.machine.created`, only the run's summary.
 */
export async function importMachines(
  store: MachineImportStore,
  input: { runId: string; machines: ImportedMachine[]; apply: boolean },
): Promise<ImportOutcome> {
  return store.transaction(async (tx) => {
    const plan = planMachineImport(input.machines, await tx.held(input.machines.map((m) => m.id)));
    if (!input.apply || plan.reply.conflicts.length > 0 || plan.inserts.length === 0) return plan.reply;
    await tx.insertMachines(plan.inserts, input.runId);
    await tx.continueIds();
    tx.recordImported(input.runId, plan.reply.imported);
    return plan.reply;
  });
}

import type { ImportedHistoryEntry, ImportedMachine, ImportSkip, UsersImportOutcome } from '@imm/contracts';
import { OperationResult } from '@imm/contracts';
import type { ConvertedData } from './convert';

/** Old user id → the id of ours that stands for it (itself, or our admin for the old one). */
export function userMapOf(reply: UsersImportOutcome): Map<number, number> {
  const map = new Map<number, number>();
  for (const id of [...reply.imported, ...reply.present]) map.set(id, id);
  for (const { id, to } of reply.mapped) map.set(id, to);
  return map;
}

/**
 * Machines whose owner comes over (or stands for ours), with the owner as we know it; the others
 * are left out: owned by someone who is not here, they would be owned by whoever has that id.
 */
export function machinesToImport(data: ConvertedData, users: Map<number, number>) {
  const machines: ImportedMachine[] = [];
  const skipped: ImportSkip[] = [];
  for (const machine of data.machines) {
    const owner = users.get(machine.owner_id);
    if (owner === undefined) skipped.push({ id: machine.id, reason: `owner_not_imported:${machine.owner_id}` });
    else machines.push({ ...machine, owner_id: owner });
  }
  return { machines, skipped };
}

/**
 * History entries, with their users as we know them. An entry about a machine or user of the source
 * that does not come over is left out; one about a machine or user the old service had deleted
 * already keeps its ids (history survives what it speaks of).
 */
export function historyToImport(data: ConvertedData, users: Map<number, number>, machineIds: Set<number>) {
  const entries: ImportedHistoryEntry[] = [];
  const skipped: ImportSkip[] = [];
  const userOf = (id: number) => (data.sourceIds.users.has(id) ? users.get(id) : id);
  for (const entry of data.history) {
    const worker = userOf(entry.worker);
    const owner = userOf(entry.machine_owner_id);
    if (data.sourceIds.machines.has(entry.machine_id) && !machineIds.has(entry.machine_id)) {
      skipped.push({ id: entry.id, reason: `machine_not_imported:${entry.machine_id}` });
    } else if (worker === undefined) skipped.push({ id: entry.id, reason: `user_not_imported:${entry.worker}` });
    else if (owner === undefined) {
      skipped.push({ id: entry.id, reason: `user_not_imported:${entry.machine_owner_id}` });
    } else entries.push({ ...entry, worker, machine_owner_id: owner });
  }
  return { entries, skipped };
}

/**
 * Each machine's newest imported SUCCESS or REMOTEFAILED entry: its status reflects them already,
 * so the operations service must not apply them again when it decides what a command may do.
 */
export function withAppliedOperations(machines: ImportedMachine[], entries: ImportedHistoryEntry[]): ImportedMachine[] {
  const newest = new Map<number, number>();
  for (const entry of entries) {
    if (entry.result !== OperationResult.SUCCESS && entry.result !== OperationResult.REMOTEFAILED) continue;
    newest.set(entry.machine_id, Math.max(newest.get(entry.machine_id) ?? 0, entry.id));
  }
  return machines.map((m) => ({ ...m, last_operation_id: newest.get(m.id) ?? null }));
}

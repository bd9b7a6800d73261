import { randomUUID } from 'node:crypto';
import type {
  HistoryImportPart,
  ImportOutcome,
  ImportSkip,
  MachinesImportPart,
  UsersImportPart,
  UsersImportOutcome,
} from '@imm/contracts';
import { type ConvertedData, convertOldData, type LeftOut } from './convert';
import type { OldData } from './old-rows';
import { historyToImport, machinesToImport, userMapOf, withAppliedOperations } from './plan';

/** The services, each checking (`apply: false`) or writing its part in its own schema. */
export interface ImportServices {
  users(runId: string, part: UsersImportPart, apply: boolean): Promise<UsersImportOutcome>;
  machines(runId: string, part: MachinesImportPart, apply: boolean): Promise<ImportOutcome>;
  history(runId: string, part: HistoryImportPart, apply: boolean): Promise<ImportOutcome>;
  /** Forgets the run's parts. */
  finish(runId: string): Promise<void>;
}

export interface ImportOptions {
  dryRun: boolean;
  replaceAdmin: boolean;
  sourceTimezone?: string;
}

export interface KindReport {
  /** Whether this run wrote this part (false on a dry run, or when a conflict stopped the run). */
  written: boolean;
  /** Written by this run (when not `written`: would be). */
  imported: number[];
  /** There already: an earlier run wrote them. */
  present: number[];
  skipped: { id: number | undefined; reason: string }[];
}

export interface ImportReport {
  runId: string;
  source: string;
  dryRun: boolean;
  /** False when a conflict stopped the import; nothing was written then. */
  ok: boolean;
  /** Whether this run wrote any row. */
  changed: boolean;
  users: KindReport;
  machines: KindReport & { pendingAsError: number[] };
  history: KindReport & { shifted: number[]; sourceTimezone: string | null };
  conflicts: string[];
  ignoredModels: Record<string, number>;
}

const kindReport = (reply: ImportOutcome, written: boolean, leftOut: (LeftOut | ImportSkip)[] = []): KindReport => ({
  written,
  imported: reply.imported,
  present: reply.present,
  skipped: [...leftOut, ...reply.skipped],
});

/**
 * The whole move: checks every row, asks every service to check its part (nothing is written
 * until all three agree), then has each write its part in one transaction, users first (machines
 * and history refer to them). A second run finds everything there and writes nothing.
 */
export async function runImport(
  source: { name: string; data: OldData },
  options: ImportOptions,
  services: ImportServices,
): Promise<ImportReport> {
  const runId = randomUUID();
  const data: ConvertedData = convertOldData(source.data, { sourceTimezone: options.sourceTimezone });
  const usersPart: UsersImportPart = { users: data.users, replace_admin: options.replaceAdmin };

  try {
    const plan = async (apply: boolean) => {
      const users = await services.users(runId, usersPart, apply);
      if (apply && users.conflicts.length > 0) return { users, machines: undefined, history: undefined };
      const userMap = userMapOf(users);
      const owned = machinesToImport(data, userMap);
      const history = historyToImport(data, userMap, new Set(owned.machines.map((m) => m.id)));
      const machinesPart = { machines: withAppliedOperations(owned.machines, history.entries) };
      const machines = await services.machines(runId, machinesPart, apply);
      if (apply && machines.conflicts.length > 0)
        return { users, machines: { reply: machines, owned }, history: undefined };
      const entries = await services.history(runId, { entries: history.entries }, apply);
      return { users, machines: { reply: machines, owned }, history: { reply: entries, left: history } };
    };

    // Check everything first; write only when no part has a conflict.
    let outcome = await plan(false);
    const conflictsOf = (o: typeof outcome) => [
      ...o.users.conflicts,
      ...(o.machines?.reply.conflicts ?? []),
      ...(o.history?.reply.conflicts ?? []),
    ];
    let conflicts = conflictsOf(outcome);
    let applied = false;
    if (conflicts.length === 0 && !options.dryRun) {
      outcome = await plan(true);
      conflicts = conflictsOf(outcome);
      applied = true;
    }
    // A part is written when its service found no conflict in the writing pass.
    const written = {
      users: applied && outcome.users.conflicts.length === 0,
      machines: applied && outcome.machines !== undefined && outcome.machines.reply.conflicts.length === 0,
      history: applied && outcome.history !== undefined && outcome.history.reply.conflicts.length === 0,
    };
    const changed =
      (written.users && outcome.users.imported.length > 0) ||
      (written.machines && (outcome.machines?.reply.imported.length ?? 0) > 0) ||
      (written.history && (outcome.history?.reply.imported.length ?? 0) > 0);
    const empty = { imported: [], present: [], skipped: [], conflicts: [] };
    const timed = new Set([...(outcome.history?.reply.imported ?? []), ...(outcome.history?.reply.present ?? [])]);
    return {
      runId,
      source: source.name,
      dryRun: options.dryRun,
      ok: conflicts.length === 0,
      changed,
      users: kindReport(outcome.users, written.users, data.leftOut.users),
      machines: {
        ...kindReport(outcome.machines?.reply ?? empty, written.machines, [
          ...data.leftOut.machines,
          ...(outcome.machines?.owned.skipped ?? []),
        ]),
        pendingAsError: data.pendingAsError,
      },
      history: {
        ...kindReport(outcome.history?.reply ?? empty, written.history, [
          ...data.leftOut.history,
          ...(outcome.history?.left.skipped ?? []),
        ]),
        // The entries (to be) written with a corrected time, or written so by an earlier run.
        shifted: data.shifted.filter((id) => timed.has(id)),
        sourceTimezone: options.sourceTimezone ?? null,
      },
      conflicts,
      ignoredModels: source.data.ignored,
    };
  } finally {
    await services.finish(runId);
  }
}

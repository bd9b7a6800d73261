import { z } from 'zod';
import { commandSchema, machineStatusSchema, operationResultSchema } from './events';

/**
 * Moving over from the Django service: the import tool hands each service its part of the old data
 * (users, machines, history) and the service writes it into its own schema. A part travels in the
 * bus's transfer store (it can be larger than a NATS message); the request names it. With
 * `apply: false` the service only checks the part against what it holds and writes nothing.
 */
const importRequestSchema = z.object({
  run_id: z.uuid(),
  /** The transfer-store key of this service's part. */
  part: z.string().min(1),
  apply: z.boolean(),
});

/** A row the service left out, and why (`username_taken`, `email_taken`, …). */
export const importSkipSchema = z.object({ id: z.number().int(), reason: z.string() });

/**
 * Ids as inclusive ranges (`[[1, 250], [300, 300]]`): a reply about a million history entries stays
 * far below a NATS message's size limit.
 */
const idRangesSchema = z.array(z.tuple([z.number().int(), z.number().int()]));

const importReplyBase = z.object({
  /** Ids written by this run (with `apply: false`: the ids that would be). */
  imported: idRangesSchema,
  /** Ids that are there already, as an earlier run wrote them. */
  present: idRangesSchema,
  skipped: z.array(importSkipSchema),
  /** Anything that stops the whole import (an id taken by another row, two rows for one email). */
  conflicts: z.array(z.string()),
});

const isoDate = z.iso.datetime({ offset: true });

export const importedUserSchema = z.object({
  id: z.number().int().positive(),
  username: z.string().min(1).max(150),
  email: z.string().max(254),
  /** The Django hash as it was (`pbkdf2_sha256$<iterations>$<salt>$<hash>`, …). */
  password: z.string().max(128),
  first_name: z.string().max(150),
  last_name: z.string().max(150),
  is_staff: z.boolean(),
  is_active: z.boolean(),
  is_superuser: z.boolean(),
  last_login: isoDate.nullable(),
  date_joined: isoDate,
});
export const usersImportPartSchema = z.object({
  users: z.array(importedUserSchema),
  /** The old service's `admin` replaces ours (else it is skipped and its rows go to ours). */
  replace_admin: z.boolean(),
});
export const usersImportReplySchema = importReplyBase.extend({
  /** Where a skipped user's machines and history go instead (our admin for the old one), by old id. */
  mapped: z.array(z.object({ id: z.number().int(), to: z.number().int() })),
});

export const importedMachineSchema = z.object({
  id: z.number().int().positive(),
  name: z.string().min(1).max(64),
  location: z.string().min(1).max(256),
  status: machineStatusSchema,
  owner_id: z.number().int().positive(),
  endpoint: z.string().max(512).nullable(),
  created_at: isoDate,
  updated_at: isoDate,
  /** The newest imported history entry whose result the status already reflects. */
  last_operation_id: z.number().int().positive().nullable(),
});
export const machinesImportPartSchema = z.object({ machines: z.array(importedMachineSchema) });

export const importedHistoryEntrySchema = z.object({
  id: z.number().int().positive(),
  request_datetime: isoDate,
  command: commandSchema,
  worker: z.number().int().positive(),
  machine_id: z.number().int().positive(),
  machine_owner_id: z.number().int().positive(),
  result: operationResultSchema,
  created_at: isoDate,
});
export const historyImportPartSchema = z.object({ entries: z.array(importedHistoryEntrySchema) });

export const importRequests = {
  'auth.import.users': { request: importRequestSchema, reply: usersImportReplySchema },
  'machines.import.machines': { request: importRequestSchema, reply: importReplyBase },
  'operations.import.history': { request: importRequestSchema, reply: importReplyBase },
} as const;

export type ImportedUser = z.infer<typeof importedUserSchema>;
export type ImportedMachine = z.infer<typeof importedMachineSchema>;
export type ImportedHistoryEntry = z.infer<typeof importedHistoryEntrySchema>;
export type UsersImportPart = z.infer<typeof usersImportPartSchema>;
export type MachinesImportPart = z.infer<typeof machinesImportPartSchema>;
export type HistoryImportPart = z.infer<typeof historyImportPartSchema>;
export type ImportReply = z.infer<typeof importReplyBase>;
export type UsersImportReply = z.infer<typeof usersImportReplySchema>;
export type ImportSkip = z.infer<typeof importSkipSchema>;

/** What a service did (or would do) with its part, ids listed one by one. */
export interface ImportOutcome {
  imported: number[];
  present: number[];
  skipped: ImportSkip[];
  conflicts: string[];
}
export interface UsersImportOutcome extends ImportOutcome {
  mapped: { id: number; to: number }[];
}

/** Conflicts listed in a reply; the rest are counted (a used system may conflict on every row). */
const CONFLICTS_LISTED = 50;

export function toIdRanges(ids: number[]): [number, number][] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const id of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else ranges.push([id, id]);
  }
  return ranges;
}

export function fromIdRanges(ranges: [number, number][]): number[] {
  const ids: number[] = [];
  for (const [first, last] of ranges) for (let id = first; id <= last; id++) ids.push(id);
  return ids;
}

export function encodeImportReply<O extends ImportOutcome>(outcome: O): Omit<O, 'imported' | 'present'> & ImportReply {
  const { conflicts } = outcome;
  return {
    ...outcome,
    imported: toIdRanges(outcome.imported),
    present: toIdRanges(outcome.present),
    conflicts:
      conflicts.length > CONFLICTS_LISTED
        ? [...conflicts.slice(0, CONFLICTS_LISTED), `… and ${conflicts.length - CONFLICTS_LISTED} more conflicts`]
        : conflicts,
  };
}

export function decodeImportReply<R extends ImportReply>(
  reply: R,
): Omit<R, 'imported' | 'present'> & { imported: number[]; present: number[] } {
  return { ...reply, imported: fromIdRanges(reply.imported), present: fromIdRanges(reply.present) };
}

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

const importReplyBase = z.object({
  /** Ids written by this run (with `apply: false`: the ids that would be). */
  imported: z.array(z.number().int()),
  /** Ids that are there already, as an earlier run wrote them. */
  present: z.array(z.number().int()),
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

import { commands, OperationResult } from '@imm/contracts';
import { z } from 'zod';
import type { CommandDecision } from '../../domain/command-decision';

/**
 * The decision an Idempotency-Key keeps, as the `decision` column holds it (migration 0006): the
 * decision's own fields, dates as ISO 8601 text. Rows written before that migration hold the
 * rendered response in `response` instead; they are read back into the decision they answered.
 */

const date = z.iso.datetime().transform((value) => new Date(value));
const id = z.int().positive();

const acceptedSchema = z.object({
  kind: z.literal('accepted'),
  entry: z.object({
    id,
    requestDatetime: date,
    command: z.enum(commands),
    worker: z.int(),
    machineId: id,
    machineOwnerId: z.int(),
    result: z.literal(OperationResult.PENDING),
    createdAt: date,
    finishedAt: date.nullable(),
    message: z.string().nullable(),
  }),
});

const refusedSchema = z.object({
  kind: z.literal('refused'),
  result: z.literal([OperationResult.PERMISSIONDENIED, OperationResult.INVALIDCOMMAND]),
  command: z.enum(commands),
  machineId: id,
  entryId: id.nullable(),
});

const decisionSchema = z.discriminatedUnion('kind', [acceptedSchema, refusedSchema]);

/** The decision as the column stores it. */
export function storedDecision(decision: CommandDecision): string {
  return JSON.stringify(decision);
}

// ---- rows of the version before migration 0006: the first response as it was sent -------------

/** The 202 body's entry (the client's view of it). */
const legacyEntrySchema = z.object({
  id,
  request_datetime: date,
  command: z.enum(commands),
  worker: z.int(),
  machine_id: id,
  machine_owner_id: z.int(),
  result: z.literal(OperationResult.PENDING),
  created_at: date,
  finished_at: date.nullable(),
  message: z.string().nullable(),
});

/** Only accepted commands (202) and refusals (403 PERMISSIONDENIED, 409 INVALIDCOMMAND) were kept. */
const legacyResponseSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal(202), body: z.object({ result: legacyEntrySchema }) }),
  z.object({ status: z.literal(403) }),
  z.object({ status: z.literal(409) }),
]);

/** A fingerprint is `<machine id>:<command>`. */
const fingerprintSchema = z
  .string()
  .regex(/^\d+:(START|STOP)$/)
  .transform((value) => {
    const [machineId, command] = value.split(':') as [string, (typeof commands)[number]];
    return { machineId: Number(machineId), command };
  });

function legacyDecision(response: string, fingerprint: string): CommandDecision {
  const legacy = legacyResponseSchema.parse(JSON.parse(response));
  if (legacy.status === 202) {
    const entry = legacy.body.result;
    return {
      kind: 'accepted',
      entry: {
        id: entry.id,
        requestDatetime: entry.request_datetime,
        command: entry.command,
        worker: entry.worker,
        machineId: entry.machine_id,
        machineOwnerId: entry.machine_owner_id,
        result: entry.result,
        createdAt: entry.created_at,
        finishedAt: entry.finished_at,
        message: entry.message,
      },
    };
  }
  // The refusal's body was the plain envelope: what was refused is the key's fingerprint.
  const asked = fingerprintSchema.parse(fingerprint);
  return {
    kind: 'refused',
    result: legacy.status === 403 ? OperationResult.PERMISSIONDENIED : OperationResult.INVALIDCOMMAND,
    command: asked.command,
    machineId: asked.machineId,
    entryId: null,
  };
}

/**
 * The kept decision of a row: its `decision` (node-postgres gives jsonb parsed), or for a row of
 * the version before, the decision its stored response answered.
 */
export function decisionOfRow(row: {
  fingerprint: string;
  decision: unknown;
  response: string | null;
}): CommandDecision {
  if (row.decision !== null) {
    return decisionSchema.parse(typeof row.decision === 'string' ? JSON.parse(row.decision) : row.decision);
  }
  if (row.response === null) throw new Error('an idempotency key without a decision or a response');
  return legacyDecision(row.response, row.fingerprint);
}

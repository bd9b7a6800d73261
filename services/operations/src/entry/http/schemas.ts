import { commands, MAX_ID } from '@imm/contracts';
import { pageQueryFields, paginatedSchemaOf } from '@imm/web';
import { z } from 'zod';

export const resultDescription =
  '1 SUCCESS, 2 REMOTEFAILED, 3 INTERNALFAILED, 4 PENDING, 5 PERMISSIONDENIED, 7 INVALIDCOMMAND';

// ---- responses -------------------------------------------------------------------------------

export const historyEntrySchema = z
  .object({
    id: z.int(),
    request_datetime: z.iso.datetime().meta({ description: 'When the command was asked for' }),
    command: z.enum(commands),
    worker: z.int().meta({ description: 'The user who asked for the command' }),
    machine_id: z.int(),
    machine_owner_id: z.int().meta({ description: 'The machine’s owner when the command was asked for' }),
    result: z.literal([1, 2, 3, 4, 5, 7]).meta({ description: resultDescription }),
    created_at: z.iso.datetime(),
    finished_at: z.iso.datetime().nullable().meta({ description: 'When the result was recorded; null while PENDING' }),
    message: z.string().nullable().meta({ description: 'Why the command failed or was refused, if it did' }),
  })
  .meta({ id: 'HistoryEntry' });

export const historyPageSchema = paginatedSchemaOf(historyEntrySchema, {
  id: 'HistoryPage',
  count: 'Entries matching the filters, on all pages',
});

// ---- requests --------------------------------------------------------------------------------

export const operationBody = z
  .object({
    command: z
      .string()
      .transform((value) => value.trim().toUpperCase())
      .pipe(z.enum(commands))
      .meta({ description: '`START` or `STOP`, case-insensitive' }),
  })
  .meta({ id: 'OperationRequest' });

export const idempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().meta({
    description:
      'Makes a retried POST answer what the first one decided (status, entry and Location; a refusal’s message in the retry’s language) instead of asking again; up to 255 printable characters, kept 24 hours. The same key with a different command or machine is a 409.',
  }),
});

/** A key the header may carry: short and printable, so it can be stored and logged. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, { error: 'invalid_value' });

const positiveInt = z
  .string()
  .regex(/^[0-9]+$/, { error: 'invalid_integer' })
  .transform(Number)
  .pipe(z.int().min(1).max(MAX_ID));

/** An ISO 8601 datetime (one without an offset is UTC) or a date (its midnight UTC). */
const datetime = z
  .union([z.iso.datetime({ offset: true, local: true }), z.iso.date()], { error: 'invalid_datetime' })
  .transform((value) => new Date(/T.*(Z|[+-]\d\d:?\d\d)$/i.test(value) || !value.includes('T') ? value : `${value}Z`));

export const historyQuerySchema = z.object({
  ...pageQueryFields,
  machine_id: positiveInt.optional().meta({ description: 'Only entries of this machine' }),
  command: z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(commands))
    .optional()
    .meta({ description: 'Only START or STOP (case-insensitive)' }),
  result: z
    .enum(['1', '2', '3', '4', '5', '7'])
    .transform((value) => Number(value) as 1 | 2 | 3 | 4 | 5 | 7)
    .optional()
    .meta({ description: `Only entries with this result (${resultDescription})` }),
  since: datetime
    .optional()
    .meta({ description: 'Only entries asked for at or after this ISO 8601 datetime (a date means its midnight UTC)' }),
  until: datetime.optional().meta({
    description: 'Only entries asked for at or before this ISO 8601 datetime (a date means its midnight UTC)',
  }),
});

/** The machine's own history has no machine_id filter: the path names the machine. */
export const machineHistoryQuerySchema = historyQuerySchema.omit({ machine_id: true });

export const idParams = z.object({ id: z.string().meta({ description: 'Machine id (a positive integer)' }) });
export const entryParams = idParams.extend({
  entryId: z.string().meta({ description: 'History entry id (a positive integer)' }),
});

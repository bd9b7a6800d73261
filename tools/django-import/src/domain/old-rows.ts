import { operationResultSchema } from '@imm/contracts';
import { z } from 'zod';

/**
 * The old Django service's rows, as its tables `accounts`, `injection_molding_machines` and
 * `machines_history` hold them (and `manage.py dumpdata` writes them), checked field by field.
 */

/**
 * A datetime as Postgres or Django writes it: `2026-01-02T03:04:05.123456Z`, `… 03:04:05+09`, or
 * naive (USE_TZ off), which the old service meant as UTC. Normalized to an ISO instant.
 */
export function instantOf(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
    value.trim(),
  );
  if (!match) return undefined;
  const [, day, minutes, seconds = ':00', fraction = '', zone = 'Z'] = match;
  const millis = `${fraction}000`.slice(0, 3);
  const offset =
    zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const date = new Date(`${day}T${minutes}${seconds}.${millis}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

const instant = z.unknown().transform((value, ctx) => {
  const iso = instantOf(value);
  if (iso === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a datetime: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return iso;
});
const id = z.number().int().positive().max(2_147_483_647);
/** Django left optional text as '' (and some dumps as null). */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => v ?? '');

export const oldUserSchema = z.object({
  id,
  password: z.string().max(128),
  last_login: instant.nullable().optional().default(null),
  is_superuser: z.boolean(),
  username: z.string().min(1).max(150),
  first_name: text(150),
  last_name: text(150),
  email: text(254),
  is_staff: z.boolean(),
  is_active: z.boolean(),
  date_joined: instant,
});
export type OldUser = z.infer<typeof oldUserSchema>;

/** The old status numbers: POWEROFF 0, READY 1, RUNNING 2, PENDING 3 ("answered something unexpected"), ERROR 4. */
export const OldMachineStatus = { POWEROFF: 0, READY: 1, RUNNING: 2, PENDING: 3, ERROR: 4 } as const;

export const oldMachineSchema = z.object({
  id,
  name: z.string().trim().min(1).max(64),
  location: z.string().trim().min(1).max(256),
  status: z.number().int().min(0).max(4),
  owner_id: id,
  created_at: instant,
  updated_at: instant,
});
export type OldMachine = z.infer<typeof oldMachineSchema>;

export const oldHistorySchema = z.object({
  id,
  request_datetime: instant,
  command: z
    .string()
    .transform((c) => c.toUpperCase())
    .pipe(z.enum(['START', 'STOP'])),
  worker: id,
  machine_id: id,
  // 1–7 as the old service defined them; it never stored 6 (IGNORE), which has no meaning here.
  result: operationResultSchema,
  machine_owner_id: id,
  created_at: instant,
});
export type OldHistoryEntry = z.infer<typeof oldHistorySchema>;

/** The source's rows, before any check: one record per row, keyed by column name. */
export interface OldData {
  users: Record<string, unknown>[];
  machines: Record<string, unknown>[];
  history: Record<string, unknown>[];
  /** Models of a dumpdata file that are not ours to import, with their row counts. */
  ignored: Record<string, number>;
}

/** The first problem of a row that fails its schema, as the report prints it. */
export function problemOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'row'}: ${issue.message}`)
    .join('; ');
}

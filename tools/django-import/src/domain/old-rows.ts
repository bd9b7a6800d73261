import { operationResultSchema } from '@imm/contracts';
import { z } from 'zod';

/**
 * The old Django service's rows, as its tables `accounts`, `injection_molding_machines` and
 * `machines_history` hold them (and `manage.py dumpdata` writes them), checked field by field.
 *
 * Two layouts of those tables exist. The service's own (`accounts`): users in `accounts`, plain
 * integer columns `owner_id`, `worker`, `machine_id`, `machine_owner_id`, commands as text and
 * statuses POWEROFF 0 … ERROR 4. Its later ForeignKey rewrite (`auth_user`): Django's `auth_user`,
 * foreign keys (`owner_id`, `worker_id`, …; `owner`, `worker`, `machine`, `machine_owner` in a
 * dump), commands 1 START / 2 STOP and statuses POWEROFF 1 … ERROR 5, as ours.
 */
export type OldLayout = 'accounts' | 'auth_user';

/** Column or dumpdata field names of the `auth_user` layout, as the `accounts` layout names them. */
const renamed: Record<string, string> = {
  owner: 'owner_id',
  worker_id: 'worker',
  machine: 'machine_id',
  machine_owner: 'machine_owner_id',
};

/** A row with either layout's names, under the `accounts` layout's. */
function canonical(row: unknown): unknown {
  if (typeof row !== 'object' || row === null) return row;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    const name = renamed[key] ?? key;
    if (!(name in out) || key === name) out[name] = value;
  }
  return out;
}

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

export const oldMachineSchema = z.preprocess(
  canonical,
  z.object({
    id,
    name: z.string().trim().min(1).max(64),
    location: z.string().trim().min(1).max(256),
    /** As the layout numbers it: 0–4 (`accounts`) or 1–5 (`auth_user`); see convert.ts. */
    status: z.number().int().min(0).max(5),
    owner_id: id,
    created_at: instant,
    updated_at: instant,
  }),
);
export type OldMachine = z.infer<typeof oldMachineSchema>;

/** START/STOP as text (any case), or 1/2 as the `auth_user` layout stores them. */
const command = z.union([
  z
    .string()
    .transform((c) => c.toUpperCase())
    .pipe(z.enum(['START', 'STOP'])),
  z.literal(1).transform(() => 'START' as const),
  z.literal(2).transform(() => 'STOP' as const),
]);

export const oldHistorySchema = z.preprocess(
  canonical,
  z.object({
    id,
    request_datetime: instant,
    command,
    worker: id,
    machine_id: id,
    // 1–7 as the old service defined them; it never stored 6 (IGNORE), which has no meaning here.
    result: operationResultSchema,
    machine_owner_id: id,
    created_at: instant,
  }),
);
export type OldHistoryEntry = z.infer<typeof oldHistorySchema>;

/** The source's rows, before any check: one record per row, keyed by column name. */
export interface OldData {
  layout: OldLayout;
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

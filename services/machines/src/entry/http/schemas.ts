import { MachineStatus, MAX_ID } from '@imm/contracts';
import { pageQueryFields, paginatedSchemaOf } from '@imm/web';
import { z } from 'zod';
import { orderFields } from '../../domain/listing';

// ---- responses -------------------------------------------------------------------------------

export const machineStatusDescription = '1 POWEROFF, 2 READY, 3 PAUSE, 4 RUNNING, 5 ERROR';

/** An enum of the status numbers, as MachineStatus names them. */
const statusValues = (params?: Parameters<typeof z.enum>[1]) => z.enum(MachineStatus, params);

export const machineSchema = z
  .object({
    id: z.int(),
    name: z.string().max(64),
    location: z.string().max(256),
    status: statusValues().meta({ description: machineStatusDescription }),
    owner_id: z.int(),
    endpoint: z
      .string()
      .max(512)
      .nullable()
      .meta({ description: 'How the worker reaches the machine (sim, http, https, opc.tcp)' }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Machine' });

export const machinePageSchema = paginatedSchemaOf(machineSchema, {
  id: 'MachinePage',
  count: 'Machines matching the filters, on all pages',
});

// ---- request bodies --------------------------------------------------------------------------

const ENDPOINT_SCHEMES = new Set(['sim:', 'http:', 'https:', 'opc.tcp:']);

/** `sim://…`, `http(s)://…` or `opc.tcp://…` with a host, no whitespace: what a driver can reach. */
function isEndpoint(value: string): boolean {
  if (value === '') return true; // blank means "no endpoint", mapped to null below
  if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value)) return false;
  try {
    const url = new URL(value);
    return ENDPOINT_SCHEMES.has(url.protocol) && url.host !== '';
  } catch {
    return false;
  }
}

// Message keys (see @imm/web messages.ts) stand in for zod's texts where the default would be wrong.
const nullNotAllowed = (issue: { input?: unknown }) => (issue.input === null ? 'null_not_allowed' : undefined);

/** Trimmed, as Django's CharField did; all-whitespace is blank. */
const text = (max: number) => z.string().trim().min(1, { error: 'blank' }).max(max);

const fields = {
  name: text(64).meta({ description: 'Display name (1–64 characters after trimming)' }),
  location: text(256).meta({ description: 'Where the machine stands (1–256 characters after trimming)' }),
  status: statusValues({ error: nullNotAllowed }).meta({ description: machineStatusDescription }),
  endpoint: z
    .string()
    .trim()
    .max(512)
    .refine(isEndpoint, { error: 'invalid_url' })
    .transform((value) => (value === '' ? null : value))
    .nullable()
    .meta({
      description:
        'How the worker reaches the machine: `sim://…` (simulated), `http(s)://…` (remote protocol), `opc.tcp://host:port/path?device=NAME` (EUROMAP 77 over OPC UA); null or "" for none (simulated)',
    }),
  owner_id: z
    .int({ error: (issue) => nullNotAllowed(issue) ?? (issue.code === 'invalid_type' ? 'invalid_integer' : undefined) })
    .min(1)
    .max(MAX_ID)
    .meta({ description: 'Owner (user id). Only a superuser may set it; ignored for everyone else.' }),
};

/** POST: name and location required; status defaults to 2 READY, endpoint to none. */
export const createMachineBody = z
  .object({
    name: fields.name,
    location: fields.location,
    status: fields.status.default(2),
    endpoint: fields.endpoint.default(null),
    owner_id: fields.owner_id.optional(),
  })
  .meta({ id: 'MachineCreate' });

/** PUT: the required fields again; optional ones left out keep their value (as Django's serializer). */
export const replaceMachineBody = z
  .object({
    name: fields.name,
    location: fields.location,
    status: fields.status.optional(),
    endpoint: fields.endpoint.optional(),
    owner_id: fields.owner_id.optional(),
  })
  .meta({ id: 'MachineReplace' });

/** PATCH: any subset. */
export const patchMachineBody = replaceMachineBody.partial().meta({ id: 'MachinePatch' });

// ---- list query ------------------------------------------------------------------------------

const orderingValues = [...orderFields, ...orderFields.map((field) => `-${field}` as const)] as const;

export const listQuerySchema = z.object({
  ...pageQueryFields,
  status: z
    .enum(['1', '2', '3', '4', '5'])
    .transform(Number)
    .optional()
    .meta({ description: `Only machines with this status (${machineStatusDescription})` }),
  owner_id: z
    .string()
    .regex(/^[0-9]+$/, { error: 'invalid_integer' })
    .transform(Number)
    .pipe(z.int().min(1).max(MAX_ID))
    .optional()
    .meta({ description: 'Only machines of this owner' }),
  search: z
    .string()
    .max(256)
    .optional()
    .meta({ description: 'Case-insensitive substring of name or location; `%` and `_` match themselves' }),
  ordering: z
    .enum(orderingValues)
    .optional()
    .meta({ description: 'Sort field, `-` for descending; ties are broken by id. Default `id`.' }),
});

export const idParams = z.object({ id: z.string().meta({ description: 'Machine id (a positive integer)' }) });

import { z } from 'zod';
import { machineStatusSchema } from './events';
import { importRequests } from './imports';

/**
 * NATS request/reply contracts, for answers needed at once. Subject: `<BUS_PREFIX>.<name>`.
 * `machines.machine.get` answers with the machine's current owner, status and endpoint, so the
 * operations service never reads the machines schema and never acts on a stale copy.
 */
export const machineGetRequestSchema = z.object({ machine_id: z.number().int() });
export const machineGetReplySchema = z.discriminatedUnion('found', [
  z.object({
    found: z.literal(true),
    machine: z.object({
      id: z.number().int(),
      owner_id: z.number().int(),
      status: machineStatusSchema,
      endpoint: z.string().nullable(),
      /** The newest operation whose result this status reflects; lets the caller spot a newer one. */
      last_operation_id: z.number().int().nullable(),
    }),
  }),
  z.object({ found: z.literal(false) }),
]);

/**
 * `machines.machine.endpoints`: every machine whose endpoint has this scheme (e.g. `opc.tcp`), so
 * the OPC UA status monitor knows which machines to watch without reading the machines schema.
 */
export const machineEndpointsRequestSchema = z.object({ scheme: z.string().regex(/^[a-z][a-z0-9+.-]*$/) });
export const machineEndpointsReplySchema = z.object({
  machines: z.array(z.object({ id: z.number().int(), endpoint: z.string() })),
});

export const requests = {
  'machines.machine.get': { request: machineGetRequestSchema, reply: machineGetReplySchema },
  'machines.machine.endpoints': { request: machineEndpointsRequestSchema, reply: machineEndpointsReplySchema },
  ...importRequests,
} as const;

export type RequestName = keyof typeof requests;
export type RequestOf<N extends RequestName> = z.infer<(typeof requests)[N]['request']>;
export type ReplyOf<N extends RequestName> = z.infer<(typeof requests)[N]['reply']>;

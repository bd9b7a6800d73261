import { z } from 'zod';
import { commands } from './lifecycle';

/**
 * The events services publish on NATS JetStream. Each event travels in the same envelope; its
 * subject is `<BUS_PREFIX>.<type>` and its JetStream message id is the envelope's `id`, which is
 * also what consumers de-duplicate on.
 */
export const eventEnvelopeSchema = z.object({
  id: z.uuid(),
  type: z.string(),
  occurred_at: z.iso.datetime(),
  request_id: z.string().optional(),
  /** W3C trace context (`traceparent`, `tracestate`) of the work that recorded the event, when traced. */
  trace_context: z.record(z.string(), z.string()).optional(),
  data: z.unknown(),
});
export type EventEnvelope<T = unknown> = Omit<z.infer<typeof eventEnvelopeSchema>, 'data'> & { data: T };

export const machineStatusSchema = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]);
export const commandSchema = z.enum(commands);
export const operationResultSchema = z.union([
  z.literal(1),
  z.literal(2),
  z.literal(3),
  z.literal(4),
  z.literal(5),
  z.literal(7),
]);

export const userRegisteredSchema = z.object({
  user_id: z.number().int(),
  username: z.string(),
  email: z.string(),
  is_superuser: z.boolean(),
});

export const machineSnapshotSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  location: z.string(),
  status: machineStatusSchema,
  owner_id: z.number().int(),
  endpoint: z.string().nullable(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const machineChangedSchema = z.object({ machine: machineSnapshotSchema });
export const machineDeletedSchema = z.object({ machine_id: z.number().int(), owner_id: z.number().int() });
export const machineStatusChangedSchema = z.object({
  machine_id: z.number().int(),
  old_status: machineStatusSchema,
  new_status: machineStatusSchema,
  /**
   * What caused the change: `api` for a user's update, `operation` for a command's result,
   * `observed` for what the machine itself reported (OPC UA status monitor).
   */
  cause: z.enum(['api', 'operation', 'observed']),
  operation_id: z.number().int().nullable(),
});

export const operationRequestedSchema = z.object({
  operation_id: z.number().int(),
  machine_id: z.number().int(),
  machine_owner_id: z.number().int(),
  command: commandSchema,
  worker: z.number().int(),
  request_datetime: z.iso.datetime(),
});

export const operationCompletedSchema = operationRequestedSchema.extend({
  result: operationResultSchema,
  message: z.string().nullable(),
  finished_at: z.iso.datetime(),
});

/**
 * What an OPC UA machine reported, as the status monitor saw it: raw values, the status they map
 * to, which of them changed since the previous observation, and the newest status-deciding
 * command (SUCCESS/REMOTEFAILED) finished before it, which must be applied first.
 */
export const machineStatusObservedSchema = z.object({
  machine_id: z.number().int(),
  /** EUROMAP 77 `JobStatus` (6 JOB_IN_PRODUCTION, 7 JOB_INTERRUPTED, 8 JOB_FINISHED, …); null when unreachable. */
  job_status: z.number().int().nullable(),
  /** EUROMAP 77 `MachineMode` (0 OTHER, 1 AUTOMATIC, 2 SEMI_AUTOMATIC, 3 MANUAL, 4 SETUP, 5 SLEEP); null when unreachable. */
  machine_mode: z.number().int().nullable(),
  reachable: z.boolean(),
  /** The status this maps to: 6 → 4 RUNNING, 7 → 3 PAUSE, other → 2 READY, unreachable → 1 POWEROFF. */
  status: machineStatusSchema,
  job_status_changed: z.boolean(),
  reachability_changed: z.boolean(),
  after_operation_id: z.number().int().nullable(),
  observed_at: z.iso.datetime(),
});

/**
 * The summary each service publishes once per Django import run that wrote something; imported rows
 * publish no per-row events (they are not new).
 */
export const importedSummarySchema = z.object({
  run_id: z.uuid(),
  imported: z.number().int(),
  /** The smallest and largest id written, so a consumer can fetch what it cares about. */
  first_id: z.number().int(),
  last_id: z.number().int(),
});

/** Every event type, its payload schema, and the stream it lives in. */
export const events = {
  'auth.user.registered': userRegisteredSchema,
  'machines.machine.created': machineChangedSchema,
  'machines.machine.updated': machineChangedSchema,
  'machines.machine.deleted': machineDeletedSchema,
  'machines.machine.status_changed': machineStatusChangedSchema,
  'operations.operation.requested': operationRequestedSchema,
  'operations.operation.completed': operationCompletedSchema,
  'operations.machine.status_observed': machineStatusObservedSchema,
  'auth.users.imported': importedSummarySchema,
  'machines.machines.imported': importedSummarySchema,
  'operations.history.imported': importedSummarySchema,
} as const;

export type EventType = keyof typeof events;
export type EventData<T extends EventType> = z.infer<(typeof events)[T]>;

/** One stream per publishing service; its subjects are `<prefix>.<service>.>`. */
export const streams = ['auth', 'machines', 'operations'] as const;
export type StreamName = (typeof streams)[number];

export function streamOf(type: EventType): StreamName {
  return type.split('.')[0] as StreamName;
}

import type { Principal } from '@imm/auth';
import {
  type Command,
  MachineStatus,
  type MachineStatusValue,
  type OperationResultValue,
  statusAfter,
} from '@imm/contracts';

export { MachineStatus, type MachineStatusValue };

/** A machine as the service stores it. `lastOperationId` is internal: never in the public JSON. */
export interface Machine {
  id: number;
  name: string;
  location: string;
  status: MachineStatusValue;
  ownerId: number;
  endpoint: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The newest operation whose result was applied to `status` (SUCCESS or REMOTEFAILED only). */
  lastOperationId: number | null;
}

/** The fields a client may write. Undefined means "leave as it is". */
export interface MachineChanges {
  name?: string;
  location?: string;
  status?: MachineStatusValue;
  endpoint?: string | null;
  ownerId?: number;
}

export interface NewMachine {
  name: string;
  location: string;
  status: MachineStatusValue;
  endpoint: string | null;
  /** Only a superuser may name an owner; everyone else owns what they create. */
  ownerId?: number;
}

export type Caller = Principal;

/** What happened to a machine, as the events that describe it. */
export type MachineEvent =
  | { kind: 'created'; machine: Machine }
  | { kind: 'updated'; machine: Machine }
  | { kind: 'deleted'; machineId: number; ownerId: number }
  | {
      kind: 'status_changed';
      machineId: number;
      oldStatus: MachineStatusValue;
      newStatus: MachineStatusValue;
      cause: StatusCause;
      operationId: number | null;
    };

/** `observed`: what an OPC UA machine reported itself (the operations worker's status monitor). */
export type StatusCause = 'api' | 'operation' | 'observed';

/** Reads are open to every signed-in user; writes belong to the owner and to superusers. */
export function mayWrite(caller: Caller, machine: Pick<Machine, 'ownerId'>): boolean {
  return caller.isSuperuser || caller.id === machine.ownerId;
}

/** Who owns a machine created by `caller`: a superuser may name someone else, nobody else may. */
export function ownerOfNewMachine(caller: Caller, requested: number | undefined): number {
  return caller.isSuperuser && requested !== undefined ? requested : caller.id;
}

export interface PlannedChange {
  machine: Machine;
  events: MachineEvent[];
}

/**
 * Applies a client's changes. A write that changes nothing stores nothing and publishes nothing
 * (`updated_at` stays). Otherwise one `updated` event, plus one `status_changed` when the status
 * moved: each kind of change is published exactly once.
 */
export function planUpdate(current: Machine, changes: MachineChanges, caller: Caller, now: Date): PlannedChange {
  const next: Machine = { ...current };
  if (changes.name !== undefined) next.name = changes.name;
  if (changes.location !== undefined) next.location = changes.location;
  if (changes.status !== undefined) next.status = changes.status;
  if (changes.endpoint !== undefined) next.endpoint = changes.endpoint;
  if (changes.ownerId !== undefined && caller.isSuperuser) next.ownerId = changes.ownerId;
  const changed =
    next.name !== current.name ||
    next.location !== current.location ||
    next.status !== current.status ||
    next.endpoint !== current.endpoint ||
    next.ownerId !== current.ownerId;
  if (!changed) return { machine: current, events: [] };
  next.updatedAt = now;
  return { machine: next, events: changeEvents(current, next, 'api', null) };
}

function changeEvents(before: Machine, after: Machine, cause: StatusCause, operationId: number | null): MachineEvent[] {
  const events: MachineEvent[] = [{ kind: 'updated', machine: after }];
  if (before.status !== after.status) {
    events.push({
      kind: 'status_changed',
      machineId: after.id,
      oldStatus: before.status,
      newStatus: after.status,
      cause,
      operationId,
    });
  }
  return events;
}

export type OperationOutcome = 'applied' | 'unchanged' | 'no_effect' | 'stale' | 'machine_gone' | 'duplicate';

/**
 * Applies a finished command's result. Only results that say something about the machine count,
 * and only when newer than the last one applied: command ids grow, so an older command's result
 * that arrives late never overwrites a newer one. Refusals (PERMISSIONDENIED, INVALIDCOMMAND) and
 * INTERNALFAILED are not recorded, because a refusal can carry a newer id than a command still
 * running, and an unreachable machine's state is unknown rather than changed.
 */
export function planOperationResult(
  current: Machine,
  completion: { operationId: number; command: Command; result: OperationResultValue },
  now: Date,
): { outcome: Exclude<OperationOutcome, 'machine_gone' | 'duplicate'>; change?: PlannedChange } {
  const target = statusAfter(completion.command, completion.result);
  if (target === undefined) return { outcome: 'no_effect' };
  if (current.lastOperationId !== null && completion.operationId <= current.lastOperationId)
    return { outcome: 'stale' };
  const next: Machine = { ...current, lastOperationId: completion.operationId };
  if (target === current.status) return { outcome: 'unchanged', change: { machine: next, events: [] } };
  next.status = target;
  next.updatedAt = now;
  return {
    outcome: 'applied',
    change: { machine: next, events: changeEvents(current, next, 'operation', completion.operationId) },
  };
}

/** A machine as clients and event consumers see it. */
export interface MachineView {
  id: number;
  name: string;
  location: string;
  status: MachineStatusValue;
  owner_id: number;
  endpoint: string | null;
  created_at: string;
  updated_at: string;
}

export function machineView(machine: Machine): MachineView {
  return {
    id: machine.id,
    name: machine.name,
    location: machine.location,
    status: machine.status,
    owner_id: machine.ownerId,
    endpoint: machine.endpoint,
    created_at: machine.createdAt.toISOString(),
    updated_at: machine.updatedAt.toISOString(),
  };
}

/**
 * A machine as `caller` may see it: the endpoint (it may hold credentials, and it maps the machine
 * network) only for its owner and superusers; `null` for everyone else.
 */
export function machineViewFor(caller: Caller): (machine: Machine) => MachineView {
  return (machine) => {
    const view = machineView(machine);
    return mayWrite(caller, machine) ? view : { ...view, endpoint: null };
  };
}

/** What the OPC UA status monitor saw (the `operations.machine.status_observed` event). */
export interface Observation {
  status: MachineStatusValue;
  jobStatusChanged: boolean;
  reachabilityChanged: boolean;
  /** The newest status-deciding command finished before the observation; applied first. */
  afterOperationId: number | null;
}

export type ObservationOutcome =
  | 'applied'
  | 'unchanged'
  | 'stale'
  | 'error_kept'
  | 'machine_gone'
  | 'duplicate'
  | 'behind';

/**
 * Applies what the machine reported. A command finished after the observation decides instead
 * (`stale`); one finished before it must be applied first (`behind`: try again later). ERROR, left
 * by a command the machine refused, stays until the machine reports a change of JobStatus or of
 * reachability: a change of MachineMode alone does not clear it.
 */
export function planObservedStatus(
  current: Machine,
  observation: Observation,
  now: Date,
): { outcome: Exclude<ObservationOutcome, 'machine_gone' | 'duplicate'>; change?: PlannedChange } {
  const applied = current.lastOperationId ?? 0;
  const after = observation.afterOperationId ?? 0;
  if (after > applied) return { outcome: 'behind' };
  if (after < applied) return { outcome: 'stale' };
  if (current.status === MachineStatus.ERROR && !observation.jobStatusChanged && !observation.reachabilityChanged)
    return { outcome: 'error_kept' };
  if (observation.status === current.status) return { outcome: 'unchanged' };
  const next: Machine = { ...current, status: observation.status, updatedAt: now };
  return { outcome: 'applied', change: { machine: next, events: changeEvents(current, next, 'observed', null) } };
}

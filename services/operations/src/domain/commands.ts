import {
  allowedFrom,
  type Command,
  isAllowedFrom,
  machineStatusNames,
  type MachineStatusValue,
  OperationResult,
  type OperationResultValue,
  statusAfter,
} from '@imm/contracts';

export type { Command } from '@imm/contracts';

/** A command that ended, by what it was and how. */
export interface FinishedCommand {
  command: Command;
  result: OperationResultValue;
}

export interface MachineView {
  id: number;
  owner_id: number;
  status: MachineStatusValue;
  endpoint: string | null;
  last_operation_id: number | null;
}

/**
 * The status to check a new command against. The machines service applies our completion events a
 * moment after we record them; a finished command it has not applied yet (newer than its
 * `last_operation_id`) decides the status.
 */
export function effectiveStatus(
  machine: MachineView,
  newestUnapplied: FinishedCommand | undefined,
): MachineStatusValue {
  if (!newestUnapplied) return machine.status;
  return statusAfter(newestUnapplied.command, newestUnapplied.result) ?? machine.status;
}

export interface Caller {
  id: number;
  isSuperuser: boolean;
}

export function mayOperate(caller: Caller, ownerId: number): boolean {
  return caller.isSuperuser || caller.id === ownerId;
}

/**
 * What a request for a command comes to: PENDING (accepted), or refused for the caller
 * (PERMISSIONDENIED) or for the machine's state (INVALIDCOMMAND), with the reason for the history.
 */
export function decideRequest(
  caller: Caller,
  machine: MachineView,
  command: Command,
  newestUnapplied: FinishedCommand | undefined,
): { result: OperationResultValue; message: string | null } {
  if (!mayOperate(caller, machine.owner_id)) {
    return {
      result: OperationResult.PERMISSIONDENIED,
      message: "only the machine's owner or a superuser may operate it",
    };
  }
  const status = effectiveStatus(machine, newestUnapplied);
  if (!isAllowedFrom(command, status)) {
    const allowed = allowedFrom[command].map((s) => machineStatusNames[s]).join(' or ');
    return {
      result: OperationResult.INVALIDCOMMAND,
      message: `${command} is allowed only from ${allowed}; the machine is ${machineStatusNames[status]}`,
    };
  }
  return { result: OperationResult.PENDING, message: null };
}

/** A machine's history is its owner's and the superusers'. */
export const mayReadMachineHistory = mayOperate;

/**
 * One entry: whoever may read the machine's history, and whoever the entry involves the way the
 * personal history list does (the user who asked, the machine's owner at the time) — so an entry a
 * former owner sees in their list also opens for them.
 */
export function mayReadEntry(
  caller: Caller,
  currentOwnerId: number,
  entry: { worker: number; machineOwnerId: number },
): boolean {
  return mayReadMachineHistory(caller, currentOwnerId) || entryInvolves(caller, entry);
}

/** The caller asked for the command or owned the machine then: they may read it whoever owns it now. */
export function entryInvolves(caller: Caller, entry: { worker: number; machineOwnerId: number }): boolean {
  return entry.worker === caller.id || entry.machineOwnerId === caller.id;
}

import { MachineStatus, type MachineStatusValue, OperationResult, type OperationResultValue } from '@imm/contracts';

export type Command = 'START' | 'STOP';

/** The body's command, case-insensitively; anything else is undefined. */
export function parseCommand(raw: unknown): Command | undefined {
  if (typeof raw !== 'string') return undefined;
  const upper = raw.trim().toUpperCase();
  return upper === 'START' || upper === 'STOP' ? upper : undefined;
}

/** START from READY or PAUSE; STOP from RUNNING or PAUSE. */
const allowedFrom: Record<Command, readonly MachineStatusValue[]> = {
  START: [MachineStatus.READY, MachineStatus.PAUSE],
  STOP: [MachineStatus.RUNNING, MachineStatus.PAUSE],
};

export function isAllowedFrom(command: Command, status: MachineStatusValue): boolean {
  return allowedFrom[command].includes(status);
}

/** The machine's status after a finished command, or undefined when the result leaves it unchanged. */
export function statusAfter(command: Command, result: OperationResultValue): MachineStatusValue | undefined {
  if (result === OperationResult.SUCCESS) return command === 'START' ? MachineStatus.RUNNING : MachineStatus.READY;
  if (result === OperationResult.REMOTEFAILED) return MachineStatus.ERROR;
  return undefined;
}

/** The results that end a command which was run (as opposed to refused ones and PENDING). */
export const FINAL_RESULTS = [
  OperationResult.SUCCESS,
  OperationResult.REMOTEFAILED,
  OperationResult.INTERNALFAILED,
] as const satisfies OperationResultValue[];

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
  newestUnapplied: { command: Command; result: OperationResultValue } | undefined,
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

/** A machine's history is its owner's and the superusers'. */
export const mayReadMachineHistory = mayOperate;

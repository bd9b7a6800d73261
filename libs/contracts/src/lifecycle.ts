/**
 * The machine lifecycle, owned here because both services apply it: operations checks a new
 * command against it, machines applies a finished command's result with it.
 */

export const MachineStatus = { POWEROFF: 1, READY: 2, PAUSE: 3, RUNNING: 4, ERROR: 5 } as const;
export type MachineStatusValue = (typeof MachineStatus)[keyof typeof MachineStatus];
export const machineStatusValues = Object.values(MachineStatus) as MachineStatusValue[];

export const OperationResult = {
  SUCCESS: 1,
  REMOTEFAILED: 2,
  INTERNALFAILED: 3,
  PENDING: 4,
  PERMISSIONDENIED: 5,
  INVALIDCOMMAND: 7,
} as const;
export type OperationResultValue = (typeof OperationResult)[keyof typeof OperationResult];
export const operationResultValues = Object.values(OperationResult) as OperationResultValue[];

export const commands = ['START', 'STOP'] as const;
export type Command = (typeof commands)[number];

/** Ids are Postgres integers: anything larger names nothing. */
export const MAX_ID = 2_147_483_647;

export const machineStatusNames: Record<MachineStatusValue, string> = {
  [MachineStatus.POWEROFF]: 'POWEROFF',
  [MachineStatus.READY]: 'READY',
  [MachineStatus.PAUSE]: 'PAUSE',
  [MachineStatus.RUNNING]: 'RUNNING',
  [MachineStatus.ERROR]: 'ERROR',
};

/** START from READY or PAUSE; STOP from RUNNING or PAUSE. */
export const allowedFrom: Record<Command, readonly MachineStatusValue[]> = {
  START: [MachineStatus.READY, MachineStatus.PAUSE],
  STOP: [MachineStatus.RUNNING, MachineStatus.PAUSE],
};

export function isAllowedFrom(command: Command, status: MachineStatusValue): boolean {
  return allowedFrom[command].includes(status);
}

/**
 * The status a finished command leaves the machine in: SUCCESS moves it (START → RUNNING,
 * STOP → READY), REMOTEFAILED means the machine reported a fault (ERROR). Every other result
 * (unreachable, refused, still pending) says nothing about the machine: undefined.
 */
export function statusAfter(command: Command, result: OperationResultValue): MachineStatusValue | undefined {
  if (result === OperationResult.SUCCESS) return command === 'START' ? MachineStatus.RUNNING : MachineStatus.READY;
  if (result === OperationResult.REMOTEFAILED) return MachineStatus.ERROR;
  return undefined;
}

import { MachineStatus as S, OperationResult as R } from '@imm/contracts';
import { describe, expect, it } from 'vitest';
import { effectiveStatus, type MachineView, decideRequest } from '../src/domain/commands';

const machine = (status: MachineView['status'], ownerId = 1): MachineView => ({
  id: 1,
  owner_id: ownerId,
  status,
  endpoint: null,
  last_operation_id: null,
});
const owner = { id: 1, isSuperuser: false };
const stranger = { id: 2, isSuperuser: false };
const admin = { id: 3, isSuperuser: true };

describe('command rules', () => {
  it('START from READY or PAUSE, STOP from RUNNING or PAUSE; the rest is INVALIDCOMMAND', () => {
    const table: [MachineView['status'], 'START' | 'STOP', number][] = [
      [S.READY, 'START', R.PENDING],
      [S.PAUSE, 'START', R.PENDING],
      [S.RUNNING, 'START', R.INVALIDCOMMAND],
      [S.POWEROFF, 'START', R.INVALIDCOMMAND],
      [S.ERROR, 'START', R.INVALIDCOMMAND],
      [S.RUNNING, 'STOP', R.PENDING],
      [S.PAUSE, 'STOP', R.PENDING],
      [S.READY, 'STOP', R.INVALIDCOMMAND],
      [S.POWEROFF, 'STOP', R.INVALIDCOMMAND],
      [S.ERROR, 'STOP', R.INVALIDCOMMAND],
    ];
    for (const [status, command, expected] of table) {
      expect(decideRequest(owner, machine(status), command, undefined).result, `${command} from ${status}`).toBe(
        expected,
      );
    }
  });

  it('only the owner or a superuser may operate; the permission check comes before the state', () => {
    expect(decideRequest(stranger, machine(S.READY), 'START', undefined).result).toBe(R.PERMISSIONDENIED);
    expect(decideRequest(stranger, machine(S.RUNNING), 'START', undefined).result).toBe(R.PERMISSIONDENIED);
    expect(decideRequest(admin, machine(S.READY), 'START', undefined)).toEqual({ result: R.PENDING, message: null });
  });

  it('a finished command the machines service has not applied decides the state', () => {
    expect(effectiveStatus(machine(S.READY), { command: 'START', result: R.SUCCESS })).toBe(S.RUNNING);
    expect(effectiveStatus(machine(S.RUNNING), { command: 'STOP', result: R.SUCCESS })).toBe(S.READY);
    expect(effectiveStatus(machine(S.READY), { command: 'START', result: R.REMOTEFAILED })).toBe(S.ERROR);
    expect(effectiveStatus(machine(S.READY), undefined)).toBe(S.READY);
    expect(decideRequest(owner, machine(S.READY), 'START', { command: 'START', result: R.SUCCESS })).toEqual({
      result: R.INVALIDCOMMAND,
      message: 'START is allowed only from READY or PAUSE; the machine is RUNNING',
    });
  });
});

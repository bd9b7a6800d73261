import { describe, expect, it } from 'vitest';
import { isAllowedFrom, MachineStatus as S, OperationResult as R, statusAfter } from '../src/index';

describe('machine lifecycle', () => {
  it('START from READY or PAUSE, STOP from RUNNING or PAUSE, nothing else', () => {
    const allowed = Object.values(S).flatMap((status) =>
      (['START', 'STOP'] as const).filter((command) => isAllowedFrom(command, status)).map((c) => `${c}@${status}`),
    );
    expect(allowed.sort()).toEqual(['START@2', 'START@3', 'STOP@3', 'STOP@4']);
  });

  it('maps results to the status they leave', () => {
    expect(statusAfter('START', R.SUCCESS)).toBe(S.RUNNING);
    expect(statusAfter('STOP', R.SUCCESS)).toBe(S.READY);
    expect(statusAfter('START', R.REMOTEFAILED)).toBe(S.ERROR);
    expect(statusAfter('STOP', R.REMOTEFAILED)).toBe(S.ERROR);
    for (const result of [R.INTERNALFAILED, R.PENDING, R.PERMISSIONDENIED, R.INVALIDCOMMAND]) {
      expect(statusAfter('START', result)).toBeUndefined();
      expect(statusAfter('STOP', result)).toBeUndefined();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { escapeLike } from '../src/adapters/data/machine-store';
import { type Machine, mayWrite, ownerOfNewMachine, planOperationResult, planUpdate } from '../src/domain/machine';

const at = new Date('2026-01-01T00:00:00.000Z');
const later = new Date('2026-01-01T00:00:05.000Z');
const machine: Machine = {
  id: 1,
  name: 'press',
  location: 'hall',
  status: 2,
  ownerId: 10,
  endpoint: null,
  createdAt: at,
  updatedAt: at,
  lastOperationId: null,
};
const owner = { id: 10, username: 'o', isStaff: false, isSuperuser: false };
const other = { id: 11, username: 'x', isStaff: true, isSuperuser: false };
const admin = { id: 1, username: 'admin', isStaff: true, isSuperuser: true };

describe('rules', () => {
  it('lets the owner and superusers write, not staff or others', () => {
    expect(mayWrite(owner, machine)).toBe(true);
    expect(mayWrite(admin, machine)).toBe(true);
    expect(mayWrite(other, machine)).toBe(false);
  });

  it('gives a new machine to its creator unless a superuser names an owner', () => {
    expect(ownerOfNewMachine(owner, 99)).toBe(10);
    expect(ownerOfNewMachine(admin, 99)).toBe(99);
    expect(ownerOfNewMachine(admin, undefined)).toBe(1);
  });
});

describe('planUpdate', () => {
  it('changes nothing (and keeps updated_at) when the values are the same', () => {
    expect(planUpdate(machine, { name: 'press', status: 2 }, owner, later)).toEqual({ machine, events: [] });
  });

  it('publishes updated for a field change', () => {
    const { machine: next, events } = planUpdate(machine, { location: 'annex' }, owner, later);
    expect(next).toEqual({ ...machine, location: 'annex', updatedAt: later });
    expect(events).toEqual([{ kind: 'updated', machine: next }]);
  });

  it('publishes updated and status_changed for a status change', () => {
    const { events } = planUpdate(machine, { status: 1 }, owner, later);
    expect(events.map((e) => e.kind)).toEqual(['updated', 'status_changed']);
    expect(events[1]).toEqual({
      kind: 'status_changed',
      machineId: 1,
      oldStatus: 2,
      newStatus: 1,
      cause: 'api',
      operationId: null,
    });
  });

  it('ignores an owner change from anyone but a superuser', () => {
    expect(planUpdate(machine, { ownerId: 11 }, owner, later).events).toEqual([]);
    expect(planUpdate(machine, { ownerId: 11 }, admin, later).machine.ownerId).toBe(11);
  });
});

describe('operation results', () => {
  it('applies a newer result and records its id', () => {
    const plan = planOperationResult(machine, { operationId: 5, command: 'START', result: 1 }, later);
    expect(plan.outcome).toBe('applied');
    expect(plan.change?.machine).toMatchObject({ status: 4, lastOperationId: 5, updatedAt: later });
    expect(plan.change?.events.map((e) => e.kind)).toEqual(['updated', 'status_changed']);
  });

  it('ignores an older or equal result', () => {
    const current = { ...machine, lastOperationId: 5 };
    expect(planOperationResult(current, { operationId: 4, command: 'STOP', result: 2 }, later)).toEqual({
      outcome: 'stale',
    });
    expect(planOperationResult(current, { operationId: 5, command: 'STOP', result: 2 }, later).outcome).toBe('stale');
  });

  it('records a result that confirms the status without an event', () => {
    const plan = planOperationResult({ ...machine, status: 4 }, { operationId: 6, command: 'START', result: 1 }, later);
    expect(plan.outcome).toBe('unchanged');
    expect(plan.change).toEqual({ machine: { ...machine, status: 4, lastOperationId: 6 }, events: [] });
  });

  it('does not record results that say nothing about the machine', () => {
    expect(planOperationResult(machine, { operationId: 9, command: 'START', result: 7 }, later)).toEqual({
      outcome: 'no_effect',
    });
  });
});

describe('listing', () => {
  it('escapes LIKE wildcards and the escape character', () => {
    expect(escapeLike("100%_a\\b'")).toBe("100\\%\\_a\\\\b'");
  });
});

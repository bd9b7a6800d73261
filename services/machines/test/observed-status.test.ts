import { describe, expect, it } from 'vitest';
import { type Machine, type Observation, planObservedStatus } from '../src/domain/machine';

const at = new Date('2026-01-01T00:00:00.000Z');
const later = new Date('2026-01-01T00:00:05.000Z');
const machine = (status: Machine['status'], lastOperationId: number | null = 7): Machine => ({
  id: 3,
  name: 'press',
  location: 'hall',
  status,
  ownerId: 10,
  endpoint: 'opc.tcp://10.0.0.5:4840?device=press',
  createdAt: at,
  updatedAt: at,
  lastOperationId,
});
const seen = (over: Partial<Observation> = {}): Observation => ({
  status: 3,
  jobStatusChanged: true,
  reachabilityChanged: false,
  afterOperationId: 7,
  ...over,
});

describe('an observed status (cause observed)', () => {
  it('moves the status and says so with cause observed', () => {
    const { outcome, change } = planObservedStatus(machine(4), seen(), later);
    expect(outcome).toBe('applied');
    expect(change?.machine).toMatchObject({ status: 3, updatedAt: later, lastOperationId: 7 });
    expect(change?.events).toEqual([
      { kind: 'updated', machine: change?.machine },
      { kind: 'status_changed', machineId: 3, oldStatus: 4, newStatus: 3, cause: 'observed', operationId: null },
    ]);
  });

  it('waits for a command result it follows, and never overrides a newer one', () => {
    expect(planObservedStatus(machine(4, 6), seen({ afterOperationId: 7 }), later).outcome).toBe('behind');
    expect(planObservedStatus(machine(2, null), seen({ afterOperationId: 1 }), later).outcome).toBe('behind');
    expect(planObservedStatus(machine(4, 8), seen({ afterOperationId: 7 }), later).outcome).toBe('stale');
    expect(planObservedStatus(machine(2, null), seen({ afterOperationId: null }), later).outcome).toBe('applied');
  });

  it('keeps ERROR unless JobStatus or reachability changed', () => {
    const modeOnly = seen({ status: 2, jobStatusChanged: false, reachabilityChanged: false });
    expect(planObservedStatus(machine(5), modeOnly, later).outcome).toBe('error_kept');
    expect(planObservedStatus(machine(5), seen({ status: 4 }), later).change?.machine.status).toBe(4);
    const offline = seen({ status: 1, jobStatusChanged: false, reachabilityChanged: true });
    expect(planObservedStatus(machine(5), offline, later).change?.machine.status).toBe(1);
  });

  it('changes nothing when the machine already has that status', () => {
    expect(planObservedStatus(machine(3), seen(), later)).toEqual({ outcome: 'unchanged' });
  });
});

import { decodeImportReply, encodeImportReply } from '@imm/contracts';
import { describe, expect, it } from 'vitest';
import { convertOldData, correctedInstant, endpointOf } from '../src/domain/convert';
import { instantOf } from '../src/domain/old-rows';
import { historyToImport, machinesToImport, userMapOf, withAppliedOperations } from '../src/domain/plan';
import { idRanges } from '../src/domain/report';

const machine = (id: number, status: number, location = 'hall A', owner = 10) => ({
  id,
  name: `press-${id}`,
  location,
  status,
  owner_id: owner,
  created_at: '2025-06-01T00:00:00Z',
  updated_at: '2025-06-01 00:00:00+00',
});
const entry = (id: number, machineId: number, result: number, worker = 10) => ({
  id,
  request_datetime: '2026-03-01T09:00:00',
  command: 'START',
  worker,
  machine_id: machineId,
  result,
  machine_owner_id: 10,
  created_at: '2026-03-01T09:00:00.123456Z',
});
const data = (machines: object[], history: object[] = []) => ({
  layout: 'accounts' as const,
  users: [],
  machines: machines as Record<string, unknown>[],
  history: history as Record<string, unknown>[],
  ignored: {},
});

describe('reading the old rows', () => {
  it('datetimes as Postgres and Django write them; naive ones are UTC', () => {
    expect(instantOf('2026-03-01T09:00:00Z')).toBe('2026-03-01T09:00:00.000Z');
    expect(instantOf('2026-03-01 09:00:00.123456+00')).toBe('2026-03-01T09:00:00.123Z');
    expect(instantOf('2026-03-01 18:00:00+09:00')).toBe('2026-03-01T09:00:00.000Z');
    expect(instantOf('2026-03-01T09:00:00')).toBe('2026-03-01T09:00:00.000Z');
    expect(instantOf('yesterday')).toBeUndefined();
    expect(instantOf(12)).toBeUndefined();
  });

  it('maps the old status numbers, and lists the old PENDING machines', () => {
    const converted = convertOldData(data([0, 1, 2, 3, 4].map((s) => machine(s + 1, s))), {});
    expect(converted.machines.map((m) => m.status)).toEqual([1, 2, 4, 5, 5]);
    expect(converted.pendingAsError).toEqual([4]);
  });

  it('leaves out rows that fail validation, saying why', () => {
    const converted = convertOldData(data([machine(1, 7), machine(2, 1)], [entry(1, 2, 6), entry(2, 2, 1)]), {});
    expect(converted.machines.map((m) => m.id)).toEqual([2]);
    expect(converted.leftOut.machines).toEqual([{ id: 1, reason: expect.stringContaining('status') }]);
    expect(converted.leftOut.history).toEqual([{ id: 1, reason: expect.stringContaining('result') }]);
    expect(converted.sourceIds.machines).toEqual(new Set([1, 2]));
  });

  it('an http(s) location is also the endpoint', () => {
    expect(endpointOf('http://10.0.0.7:8080/imm')).toBe('http://10.0.0.7:8080/imm');
    expect(endpointOf('HTTPS://press.plant/api')).toBe('HTTPS://press.plant/api');
    expect(endpointOf('hall A')).toBeNull();
    expect(endpointOf('http://')).toBeNull();
    expect(endpointOf('ftp://press')).toBeNull();
  });
});

describe('--source-timezone', () => {
  it('reads the stored digits as that zone’s wall-clock time, daylight saving included', () => {
    expect(correctedInstant('2026-03-01T09:00:00.000Z', 'Asia/Seoul')).toBe('2026-03-01T00:00:00.000Z');
    expect(correctedInstant('2026-01-15T12:00:00.000Z', 'America/New_York')).toBe('2026-01-15T17:00:00.000Z');
    expect(correctedInstant('2026-07-15T12:00:00.000Z', 'America/New_York')).toBe('2026-07-15T16:00:00.000Z');
    // Either side of New York's spring-forward night (02:00 EST → 03:00 EDT on 8 March 2026).
    expect(correctedInstant('2026-03-08T01:30:00.000Z', 'America/New_York')).toBe('2026-03-08T06:30:00.000Z');
    expect(correctedInstant('2026-03-08T03:30:00.000Z', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
    expect(correctedInstant('2026-07-15T12:00:00.000Z', 'Asia/Kolkata')).toBe('2026-07-15T06:30:00.000Z');
    expect(correctedInstant('2026-07-15T12:00:00.000Z', 'UTC')).toBe('2026-07-15T12:00:00.000Z');
    expect(correctedInstant('2026-07-15T12:00:00.000Z', undefined)).toBe('2026-07-15T12:00:00.000Z');
  });

  it('reports which entries changed', () => {
    expect(convertOldData(data([], [entry(1, 1, 1)]), { sourceTimezone: 'Asia/Seoul' }).shifted).toEqual([1]);
    expect(convertOldData(data([], [entry(1, 1, 1)]), { sourceTimezone: 'UTC' }).shifted).toEqual([]);
  });
});

describe('what goes to the machines and operations services', () => {
  const users = userMapOf({
    imported: [10],
    present: [],
    skipped: [{ id: 1, reason: 'admin_kept' }],
    conflicts: [],
    mapped: [{ id: 1, to: 3 }],
  });
  const source = convertOldData(
    {
      layout: 'accounts',
      users: [{ id: 1 }, { id: 10 }, { id: 13 }],
      machines: [machine(1, 1), machine(2, 1, 'x', 1), machine(3, 1, 'x', 13)],
      history: [
        entry(1, 1, 1),
        entry(2, 1, 2),
        entry(3, 1, 4),
        entry(4, 3, 1),
        entry(5, 99, 1),
        entry(6, 1, 1, 13),
        entry(7, 2, 1, 1),
        entry(8, 1, 1, 77),
      ],
      ignored: {},
    },
    {},
  );

  it('machines of users who do not come over are left out; the old admin’s go to ours', () => {
    const { machines, skipped } = machinesToImport(source, users);
    expect(machines.map((m) => [m.id, m.owner_id])).toEqual([
      [1, 10],
      [2, 3],
    ]);
    expect(skipped).toEqual([{ id: 3, reason: 'owner_not_imported:13' }]);
  });

  it('history about a machine or user that does not come over is left out; about a deleted one it is kept', () => {
    const { entries, skipped } = historyToImport(source, users, new Set([1, 2]));
    expect(entries.map((e) => [e.id, e.machine_id, e.worker])).toEqual([
      [1, 1, 10],
      [2, 1, 10],
      [3, 1, 10],
      [5, 99, 10],
      [7, 2, 3],
      [8, 1, 77],
    ]);
    expect(skipped).toEqual([
      { id: 4, reason: 'machine_not_imported:3' },
      { id: 6, reason: 'user_not_imported:13' },
    ]);
  });

  it('each machine’s status already reflects its newest SUCCESS or REMOTEFAILED entry', () => {
    const { machines } = machinesToImport(source, users);
    const { entries } = historyToImport(source, users, new Set([1, 2]));
    expect(withAppliedOperations(machines, entries).map((m) => [m.id, m.last_operation_id])).toEqual([
      [1, 8],
      [2, 7],
    ]);
  });
});

describe('the report', () => {
  it('lists ids as ranges', () => {
    expect(idRanges([5, 1, 2, 3, 7, 8, 8])).toBe('1–3, 5, 7–8');
    expect(idRanges([])).toBe('');
  });
});

describe('replies on the wire', () => {
  it('carry ids as ranges and at most 50 conflicts', () => {
    const outcome = {
      imported: [1, 2, 3, 7],
      present: [],
      skipped: [],
      conflicts: Array.from({ length: 60 }, (_, i) => `conflict ${i}`),
    };
    const reply = encodeImportReply(outcome);
    expect(reply.imported).toEqual([
      [1, 3],
      [7, 7],
    ]);
    expect(reply.conflicts).toHaveLength(51);
    expect(reply.conflicts[50]).toBe('… and 10 more conflicts');
    expect(decodeImportReply(reply).imported).toEqual([1, 2, 3, 7]);
  });
});

describe('the auth_user layout (Django users and foreign keys)', () => {
  it('reads its column and field names, commands 1/2, and statuses already numbered as ours', () => {
    const converted = convertOldData(
      {
        layout: 'auth_user',
        users: [],
        machines: [
          {
            id: 1,
            name: 'p',
            location: 'hall',
            status: 3,
            owner: 10,
            created_at: '2025-01-01T00:00:00Z',
            updated_at: '2025-01-01T00:00:00Z',
          },
          {
            id: 2,
            name: 'q',
            location: 'hall',
            status: 5,
            owner_id: 11,
            created_at: '2025-01-01T00:00:00Z',
            updated_at: '2025-01-01T00:00:00Z',
          },
          {
            id: 3,
            name: 'r',
            location: 'hall',
            status: 0,
            owner_id: 11,
            created_at: '2025-01-01T00:00:00Z',
            updated_at: '2025-01-01T00:00:00Z',
          },
        ],
        history: [
          {
            id: 1,
            request_datetime: '2026-01-01T00:00:00Z',
            command: 2,
            worker_id: 10,
            machine_id: 1,
            machine_owner_id: 10,
            result: 1,
            created_at: '2026-01-01T00:00:00Z',
          },
          {
            id: 2,
            request_datetime: '2026-01-01T00:00:00Z',
            command: 1,
            worker: 11,
            machine: 2,
            machine_owner: 11,
            result: 4,
            created_at: '2026-01-01T00:00:00Z',
          },
        ],
        ignored: {},
      },
      {},
    );
    expect(converted.machines.map((m) => [m.id, m.status, m.owner_id])).toEqual([
      [1, 3, 10],
      [2, 5, 11],
    ]);
    expect(converted.leftOut.machines).toEqual([
      { id: 3, reason: 'machine fails validation: status: 0 is not a status' },
    ]);
    expect(converted.pendingAsError).toEqual([]);
    expect(converted.history.map((e) => [e.id, e.command, e.worker, e.machine_id, e.machine_owner_id])).toEqual([
      [1, 'STOP', 10, 1, 10],
      [2, 'START', 11, 2, 11],
    ]);
  });
});

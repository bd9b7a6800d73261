import {
  type ImportedHistoryEntry,
  type ImportedMachine,
  type ImportedUser,
  MachineStatus,
  type MachineStatusValue,
} from '@imm/contracts';
import { IANAZone } from 'luxon';
import type { z } from 'zod';
import {
  type OldData,
  type OldHistoryEntry,
  type OldLayout,
  OldMachineStatus,
  type OldMachine,
  type OldUser,
  oldHistorySchema,
  oldMachineSchema,
  oldUserSchema,
  problemOf,
} from './old-rows';

/** A row left out before any service saw it, and why. */
export interface LeftOut {
  id: number | undefined;
  reason: string;
}

/** The `accounts` layout's status numbers as ours; its PENDING ("answered something unexpected") is an ERROR. */
const accountsStatus: Record<number, MachineStatusValue> = {
  [OldMachineStatus.POWEROFF]: MachineStatus.POWEROFF,
  [OldMachineStatus.READY]: MachineStatus.READY,
  [OldMachineStatus.RUNNING]: MachineStatus.RUNNING,
  [OldMachineStatus.PENDING]: MachineStatus.ERROR,
  [OldMachineStatus.ERROR]: MachineStatus.ERROR,
};

/** The `auth_user` layout numbers statuses as we do (POWEROFF 1, READY 2, PAUSE 3, RUNNING 4, ERROR 5). */
const statusOf = (layout: OldLayout, status: number): MachineStatusValue | undefined =>
  layout === 'accounts'
    ? accountsStatus[status]
    : status >= 1 && status <= 5
      ? (status as MachineStatusValue)
      : undefined;

/** The old service sent commands to an http(s) location; that location is how we reach it too. */
export function endpointOf(location: string): string | null {
  if (location.length > 512 || !/^https?:\/\//i.test(location)) return null;
  try {
    new URL(location);
    return location;
  } catch {
    return null;
  }
}

/**
 * The old service's servers wrote local wall-clock time labelled UTC when they ran with a time
 * zone set: read the stored digits as that zone's time. Undefined `zone`: as they are.
 */
export function correctedInstant(iso: string, zone: string | undefined): string {
  if (!zone) return iso;
  const offsetAt = offsetsOf(zone);
  // The digits as if they were UTC, minus the zone's offset at that moment; asked twice, so a time
  // just after a daylight-saving change gets the offset in force then (luxon's own method).
  const wall = Date.parse(iso);
  const guess = wall - offsetAt(wall) * 60_000;
  return new Date(wall - offsetAt(guess) * 60_000).toISOString();
}

const HOUR_MS = 3_600_000;
const offsetFinders = new Map<string, (ms: number) => number>();

/**
 * A zone's UTC offset (minutes) at an instant. Asking the zone costs tens of microseconds, so an
 * offset is remembered per hour when it is the same at both ends of that hour.
 */
function offsetsOf(zone: string): (ms: number) => number {
  let finder = offsetFinders.get(zone);
  if (!finder) {
    const tz = IANAZone.create(zone);
    const hours = new Map<number, number | null>();
    finder = (ms) => {
      const hour = Math.floor(ms / HOUR_MS);
      let offset = hours.get(hour);
      if (offset === undefined) {
        const start = tz.offset(hour * HOUR_MS);
        offset = start === tz.offset((hour + 1) * HOUR_MS - 1) ? start : null;
        hours.set(hour, offset);
      }
      return offset ?? tz.offset(ms);
    };
    offsetFinders.set(zone, finder);
  }
  return finder;
}

export function isKnownZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

function checkRows<S extends z.ZodType>(rows: Record<string, unknown>[], schema: S, kind: string) {
  const valid: z.infer<S>[] = [];
  const leftOut: LeftOut[] = [];
  for (const row of rows) {
    const parsed = schema.safeParse(row);
    if (parsed.success) valid.push(parsed.data);
    else {
      const id = typeof row.id === 'number' ? row.id : undefined;
      leftOut.push({ id, reason: `${kind} fails validation: ${problemOf(parsed.error)}` });
    }
  }
  return { valid, leftOut };
}

export interface ConvertedData {
  users: ImportedUser[];
  /** Machines with their owner as the old service had it (the owner may not come over). */
  machines: ImportedMachine[];
  history: ImportedHistoryEntry[];
  leftOut: { users: LeftOut[]; machines: LeftOut[]; history: LeftOut[] };
  /** Ids of every row of the source (valid or not): a reference to one that is left out is void. */
  sourceIds: { users: Set<number>; machines: Set<number> };
  /** Machines the old service had PENDING, imported as ERROR. */
  pendingAsError: number[];
  /** History entries whose request_datetime the time zone moved. */
  shifted: number[];
}

const userOf = (u: OldUser): ImportedUser => ({ ...u });

const machineOf = (m: OldMachine, status: MachineStatusValue): ImportedMachine => ({
  id: m.id,
  name: m.name,
  location: m.location,
  status,
  owner_id: m.owner_id,
  endpoint: endpointOf(m.location),
  created_at: m.created_at,
  updated_at: m.updated_at,
  last_operation_id: null,
});

const entryOf = (h: OldHistoryEntry, zone: string | undefined): ImportedHistoryEntry => ({
  id: h.id,
  request_datetime: correctedInstant(h.request_datetime, zone),
  command: h.command,
  worker: h.worker,
  machine_id: h.machine_id,
  machine_owner_id: h.machine_owner_id,
  result: h.result,
  created_at: h.created_at,
});

/** Checks every row of the source and converts the valid ones to what our services keep. */
export function convertOldData(data: OldData, options: { sourceTimezone?: string }): ConvertedData {
  const users = checkRows(data.users, oldUserSchema, 'user');
  const machines = checkRows(data.machines, oldMachineSchema, 'machine');
  // A status number the layout does not have fails validation like any other field.
  const statusOk = machines.valid.filter((m) => statusOf(data.layout, m.status) !== undefined);
  for (const m of machines.valid) {
    if (statusOf(data.layout, m.status) === undefined) {
      machines.leftOut.push({ id: m.id, reason: `machine fails validation: status: ${m.status} is not a status` });
    }
  }
  const history = checkRows(data.history, oldHistorySchema, 'history entry');
  const ids = (rows: Record<string, unknown>[]) =>
    new Set(rows.map((r) => r.id).filter((id): id is number => typeof id === 'number'));
  const entries = history.valid.map((h) => entryOf(h, options.sourceTimezone));
  return {
    users: users.valid.map(userOf),
    machines: statusOk.map((m) => machineOf(m, statusOf(data.layout, m.status) as MachineStatusValue)),
    history: entries,
    leftOut: { users: users.leftOut, machines: machines.leftOut, history: history.leftOut },
    sourceIds: { users: ids(data.users), machines: ids(data.machines) },
    pendingAsError:
      data.layout === 'accounts' ? statusOk.filter((m) => m.status === OldMachineStatus.PENDING).map((m) => m.id) : [],
    shifted: entries.filter((e, i) => e.request_datetime !== history.valid[i]?.request_datetime).map((e) => e.id),
  };
}

import { MachineStatus, type MachineStatusValue } from '@imm/contracts';

/** What the monitor sees of one machine: reachable with its values, or not. */
export interface Observation {
  reachable: boolean;
  /** EUROMAP 77 JobStatus; null when unreachable. */
  jobStatus: number | null;
  /** EUROMAP 77 MachineMode; null when unreachable. */
  machineMode: number | null;
}

export const UNREACHABLE: Observation = { reachable: false, jobStatus: null, machineMode: null };

const JOB_IN_PRODUCTION = 6;
const JOB_INTERRUPTED = 7;

/** JobStatus 6 → RUNNING, 7 → PAUSE, any other → READY; unreachable (long enough) → POWEROFF. */
export function statusOfObservation(observation: Observation): MachineStatusValue {
  if (!observation.reachable) return MachineStatus.POWEROFF;
  if (observation.jobStatus === JOB_IN_PRODUCTION) return MachineStatus.RUNNING;
  if (observation.jobStatus === JOB_INTERRUPTED) return MachineStatus.PAUSE;
  return MachineStatus.READY;
}

export interface ObservedChange {
  jobStatusChanged: boolean;
  reachabilityChanged: boolean;
  /** Anything at all, MachineMode included: worth an event. */
  changed: boolean;
}

/**
 * What differs from the last published observation. The first one has nothing to differ from: it
 * is worth publishing, but it reports no change (so it does not clear an ERROR a command left).
 */
export function changeSince(previous: Observation | null, next: Observation): ObservedChange {
  if (!previous) return { jobStatusChanged: false, reachabilityChanged: false, changed: true };
  const jobStatusChanged = previous.jobStatus !== next.jobStatus;
  const reachabilityChanged = previous.reachable !== next.reachable;
  return {
    jobStatusChanged,
    reachabilityChanged,
    changed: jobStatusChanged || reachabilityChanged || previous.machineMode !== next.machineMode,
  };
}

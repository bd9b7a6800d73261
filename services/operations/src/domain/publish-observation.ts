import type { EventData } from '@imm/contracts';
import { changeSince, type Observation, statusOfObservation } from './observed-status';

/** A watched machine's row as the monitor's store holds it, locked for the transaction. */
export interface WatchedRow {
  endpoint: string;
  holder: string | null;
  /** The holder's lease has not run out. */
  live: boolean;
  /** The observation published last; null when none was (or the endpoint changed since). */
  previous: Observation | null;
}

/** What our commands say about the machine right now. */
export interface CommandsOnMachine {
  /** One of our commands is PENDING: its result decides the status first. */
  pending: boolean;
  /** The newest SUCCESS/REMOTEFAILED command's id, so the machines service orders the two. */
  decided: number | null;
}

/** One transaction of publishing an observation; each call is one statement. */
export interface ObservationTransaction {
  /** The machine's row, locked until the transaction ends; undefined when it is not watched. */
  watched(machineId: number): Promise<WatchedRow | undefined>;
  commandsOn(machineId: number): Promise<CommandsOnMachine>;
  /** Keeps the observation as the one published last, with its event, committed together. */
  publish(
    machineId: number,
    observation: Observation,
    event: EventData<'operations.machine.status_observed'>,
  ): Promise<void>;
}

export interface ObservationStore {
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
  withObservationTransaction<T>(work: (tx: ObservationTransaction) => Promise<T>): Promise<T>;
}

export type PublishOutcome = 'published' | 'unchanged' | 'pending' | 'not_held';

/**
 * Publishes an observation as `operations.machine.status_observed` if this replica still holds
 * the machine, no command of ours is pending on it (its result decides first), and it differs
 * from the last one published.
 */
export function publishObservation(
  store: ObservationStore,
  holder: string,
  machineId: number,
  endpoint: string,
  observation: Observation,
): Promise<PublishOutcome> {
  return store.withObservationTransaction(async (tx) => {
    const row = await tx.watched(machineId);
    if (!row || row.holder !== holder || !row.live || row.endpoint !== endpoint) return 'not_held';
    const commands = await tx.commandsOn(machineId);
    if (commands.pending) return 'pending';
    const change = changeSince(row.previous, observation);
    if (!change.changed) return 'unchanged';
    await tx.publish(machineId, observation, {
      machine_id: machineId,
      job_status: observation.jobStatus,
      machine_mode: observation.machineMode,
      reachable: observation.reachable,
      status: statusOfObservation(observation),
      job_status_changed: change.jobStatusChanged,
      reachability_changed: change.reachabilityChanged,
      after_operation_id: commands.decided,
      observed_at: new Date().toISOString(),
    });
    return 'published';
  });
}

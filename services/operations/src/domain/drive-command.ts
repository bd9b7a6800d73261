import { OperationResult } from '@imm/contracts';
import {
  EndpointRejectedError,
  type FailureReason,
  type MachineDriver,
  MachineFailedError,
  TransportError,
} from '../drivers/driver';
import type { Command } from './commands';

export type FinalResult =
  | typeof OperationResult.SUCCESS
  | typeof OperationResult.REMOTEFAILED
  | typeof OperationResult.INTERNALFAILED;

export interface CommandOutcome {
  result: FinalResult;
  /** Why it failed, for the history entry: a short fixed reason; null on success. */
  message: string | null;
  /** What exactly went wrong, for the worker's log only. */
  detail?: string;
}

export interface DrivePolicy {
  /** Tries in all when the machine cannot be reached (transport failures only). */
  attempts: number;
  /** Each try gives up after this long. */
  timeoutMs: number;
  /** Wait before the second try; doubles for each further one. */
  backoffMs: number;
}

/** The worker is stopping: the command was not finished and goes back to the queue. */
export class DriveCancelledError extends Error {
  constructor() {
    super('driving the machine was cancelled');
    this.name = 'DriveCancelledError';
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DriveCancelledError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DriveCancelledError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Drives one command to its result: the machine's answer (SUCCESS or REMOTEFAILED, never retried),
 * or INTERNALFAILED once every try failed to get an answer, or at once for an endpoint that may
 * not be reached. `cancel` (the worker stopping) ends it with DriveCancelledError instead.
 */
export async function driveCommand(
  connect: () => MachineDriver,
  command: Command,
  policy: DrivePolicy,
  cancel: AbortSignal,
): Promise<CommandOutcome> {
  let driver: MachineDriver;
  try {
    driver = connect();
  } catch (error) {
    if (error instanceof EndpointRejectedError)
      return { result: OperationResult.INTERNALFAILED, message: error.reason, detail: error.message };
    throw error;
  }
  let lastError = 'no attempt made';
  let lastReason: FailureReason = 'no answer';
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (attempt > 1) await pause(policy.backoffMs * 2 ** (attempt - 2), cancel);
    if (cancel.aborted) throw new DriveCancelledError();
    try {
      const answer = await driver.execute(command, AbortSignal.any([cancel, AbortSignal.timeout(policy.timeoutMs)]));
      return answer === 'success'
        ? { result: OperationResult.SUCCESS, message: null }
        : { result: OperationResult.REMOTEFAILED, message: 'the machine reported that the command failed' };
    } catch (error) {
      if (cancel.aborted) throw new DriveCancelledError();
      if (error instanceof EndpointRejectedError)
        return { result: OperationResult.INTERNALFAILED, message: error.reason, detail: error.message };
      // What the machine itself answered (e.g. BadInvalidState): its own words, no network detail.
      if (error instanceof MachineFailedError) return { result: OperationResult.REMOTEFAILED, message: error.message };
      // A driver's own bug counts as no answer too: retried, then INTERNALFAILED, never stuck.
      const text = error instanceof Error ? error.message : String(error);
      lastError =
        error instanceof TransportError && text === 'timed out' ? `timed out after ${policy.timeoutMs} ms` : text;
      lastReason = error instanceof TransportError ? error.reason : 'no answer';
    }
  }
  const tries = policy.attempts === 1 ? '1 attempt' : `${policy.attempts} attempts`;
  return {
    result: OperationResult.INTERNALFAILED,
    message: lastReason,
    detail: `no usable answer from the machine after ${tries}: ${lastError}`,
  };
}

import { OperationResult } from '@imm/contracts';
import {
  EndpointRejectedError,
  type FailureReason,
  type MachineDriver,
  MachineFailedError,
  NotSentError,
  TransportError,
} from './machine-driver';
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
  /** Tries in all while nothing reached the machine (connection refused, DNS, TLS handshake). */
  attempts: number;
  /** Each try gives up after this long. */
  timeoutMs: number;
  /** Wait before the second try; doubles for each further one. */
  backoffMs: number;
}

/** The history's reason for a command that may have reached the machine without an answer recorded. */
export const OUTCOME_UNKNOWN = 'outcome unknown';

export const REMOTE_FAILED_MESSAGE = 'the machine reported that the command failed';
/** Log detail of an "outcome unknown" whose worker died after sending. */
export const WORKER_LOST_DETAIL = 'the worker stopped after sending the command';
export const notStartedMessage = (deadlineMs: number) =>
  `not started within ${Math.round(deadlineMs / 1000)} s of being accepted`;
const notReachedMessage = (attempts: number, reason: string) =>
  `no usable answer from the machine after ${attempts === 1 ? '1 attempt' : `${attempts} attempts`}: ${reason}`;

/** The worker is stopping before the command was sent: it goes back to the queue. */
export class DriveCancelledError extends Error {
  constructor() {
    super('driving the machine was cancelled');
    this.name = 'DriveCancelledError';
  }
}

/** Another worker holds the command now (this one's lease was lost): this run must not send it. */
export class LeaseLostError extends Error {
  constructor() {
    super("the command is no longer this worker run's to drive");
    this.name = 'LeaseLostError';
  }
}

/** How a drive records, before each attempt, that the command may go out (see the repository). */
export interface SendMarks {
  /**
   * The first attempt's mark when it was made already, committed with the lease: no `markSent`
   * for that attempt then, and a drive that ends before it (cancelled, endpoint refused) clears it.
   */
  first?: 'sent' | 'overdue';
  /** Committed before an attempt starts; `overdue` past the deadline for starting, `lost` when no longer ours. */
  markSent(): Promise<'sent' | 'overdue' | 'lost'>;
  /** The attempt failed before anything reached the machine. */
  clearSent(): Promise<void>;
}

/** Nothing was sent after all: a first mark made in advance goes (best effort, as after a failed try). */
async function withdrawFirstMark(marks: SendMarks): Promise<void> {
  if (marks.first === 'sent') await marks.clearSent().catch(() => {});
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

const reasonOf = (error: unknown, policy: DrivePolicy) => {
  const text = error instanceof Error ? error.message : String(error);
  return text === 'timed out' ? `timed out after ${policy.timeoutMs} ms` : text;
};

/**
 * Drives one command to its result, sending it to the machine at most once:
 * - the machine's answer, SUCCESS or REMOTEFAILED;
 * - a failure before anything reached the machine is tried again (`policy.attempts`), then
 *   INTERNALFAILED; so is an endpoint that may not be reached, at once;
 * - once an attempt may have reached the machine (a timeout, a reset, a nonsense answer), never
 *   another: INTERNALFAILED "outcome unknown", or what a driver that can read the machine observed.
 * Each attempt is marked in the entry before it starts (`marks`; the first may come marked with
 * the lease). `cancel` (the worker stopping) ends it with DriveCancelledError only while nothing is
 * in flight; an attempt in flight runs to its answer or its timeout, never cut off.
 */
export async function driveCommand(
  connect: () => MachineDriver,
  command: Command,
  policy: DrivePolicy,
  marks: SendMarks,
  cancel: AbortSignal,
  deadlineMs: number,
): Promise<CommandOutcome> {
  let driver: MachineDriver;
  try {
    driver = connect();
  } catch (error) {
    if (error instanceof EndpointRejectedError) {
      await withdrawFirstMark(marks);
      return { result: OperationResult.INTERNALFAILED, message: error.reason, detail: error.message };
    }
    throw error;
  }
  let lastError = 'no attempt made';
  let lastReason: FailureReason = 'no answer';
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (attempt > 1) await pause(policy.backoffMs * 2 ** (attempt - 2), cancel);
    if (cancel.aborted) {
      if (attempt === 1) await withdrawFirstMark(marks);
      throw new DriveCancelledError();
    }
    const mark = attempt === 1 && marks.first ? marks.first : await marks.markSent();
    if (mark === 'lost') throw new LeaseLostError();
    if (mark === 'overdue') {
      if (attempt === 1) return { result: OperationResult.INTERNALFAILED, message: notStartedMessage(deadlineMs) };
      return {
        result: OperationResult.INTERNALFAILED,
        message: lastReason,
        detail: notReachedMessage(attempt - 1, lastError),
      };
    }
    try {
      const answer = await driver.execute(command, AbortSignal.timeout(policy.timeoutMs));
      return answer === 'success'
        ? { result: OperationResult.SUCCESS, message: null }
        : { result: OperationResult.REMOTEFAILED, message: REMOTE_FAILED_MESSAGE };
    } catch (error) {
      // Refused before sending, or (OPC UA) ended by the driver itself: final, the mark stays.
      if (error instanceof EndpointRejectedError)
        return { result: OperationResult.INTERNALFAILED, message: error.reason, detail: error.message };
      // The machine answered that it failed, with its reason: never retried.
      if (error instanceof MachineFailedError) return { result: OperationResult.REMOTEFAILED, message: error.message };
      // It answered, with nothing we can read (an error status, not JSON, an unknown result): it got
      // the command, so never again, and the history says what came back rather than nothing.
      if (error instanceof TransportError && !(error instanceof NotSentError) && error.reason === 'bad reply')
        return { result: OperationResult.INTERNALFAILED, message: error.reason, detail: reasonOf(error, policy) };
      if (!(error instanceof NotSentError)) return observedOrUnknown(driver, command, policy, reasonOf(error, policy));
      lastError = reasonOf(error, policy);
      lastReason = error.reason;
      // Best effort: a mark left behind only makes a crash later read "outcome unknown".
      await marks.clearSent().catch(() => {});
    }
  }
  return {
    result: OperationResult.INTERNALFAILED,
    message: lastReason,
    detail: notReachedMessage(policy.attempts, lastError),
  };
}

/** A command that may have been sent and has no answer: what the machine shows, or "outcome unknown". */
export async function observedOrUnknown(
  driver: MachineDriver,
  command: Command,
  policy: DrivePolicy,
  reason: string,
): Promise<CommandOutcome> {
  if (driver.observeOutcome) {
    const observed = await driver
      .observeOutcome(command, AbortSignal.timeout(policy.timeoutMs))
      .catch((): undefined => undefined);
    if (observed === 'success') return { result: OperationResult.SUCCESS, message: null };
    if (observed === 'failed') return { result: OperationResult.REMOTEFAILED, message: REMOTE_FAILED_MESSAGE };
  }
  return { result: OperationResult.INTERNALFAILED, message: OUTCOME_UNKNOWN, detail: reason };
}

/** For a takeover: the command was sent by a worker that is gone, and its answer was not kept. */
export async function outcomeOfLostDrive(
  connect: () => MachineDriver,
  command: Command,
  policy: DrivePolicy,
): Promise<CommandOutcome> {
  let driver: MachineDriver;
  try {
    driver = connect();
  } catch {
    return { result: OperationResult.INTERNALFAILED, message: OUTCOME_UNKNOWN, detail: WORKER_LOST_DETAIL };
  }
  return observedOrUnknown(driver, command, policy, WORKER_LOST_DETAIL);
}

import type { Command } from './commands';

/** The port every machine driver (adapters/drivers) implements, and the failures it reports. */

/** What a machine answered: it did what it was told, or it reports that it could not. */
export type DriverOutcome = 'success' | 'failed';

/**
 * How the worker talks to one kind of machine. `execute` resolves with the machine's answer, or
 * throws:
 * - NotSentError: nothing reached the machine (connection refused, DNS, TLS handshake): retried;
 * - TransportError (any other): the command may have reached the machine (a timeout, a reset, a
 *   nonsense answer): never sent again, the entry ends "outcome unknown";
 * - EndpointRejectedError: it must not even try (not retried);
 * - MachineFailedError: the machine answered that it failed (REMOTEFAILED, not retried).
 * Anything else a driver throws counts as "may have been sent", the safe side.
 */
export interface MachineDriver {
  execute(command: Command, signal: AbortSignal): Promise<DriverOutcome>;
  /**
   * Drivers that can read the machine's state say what became of a command whose answer was lost
   * (undefined: cannot tell). Used instead of "outcome unknown"; never sends anything.
   */
  observeOutcome?(command: Command, signal: AbortSignal): Promise<DriverOutcome | undefined>;
}

/**
 * The short, fixed reason a user reads in the history. The detail (status codes, replies, socket
 * errors, the allowed networks) goes to the worker's log only: shown to users it would let anyone
 * who registers a machine map the machine network.
 */
export type FailureReason = 'no answer' | 'refused' | 'bad reply';

export class TransportError extends Error {
  readonly reason: FailureReason;
  constructor(message: string, options?: { cause?: unknown; reason?: FailureReason }) {
    super(message, options);
    this.name = 'TransportError';
    this.reason = options?.reason ?? 'no answer';
  }
}

/** A transport failure before anything reached the machine: safe to try again. */
export class NotSentError extends TransportError {
  constructor(message: string, options?: { cause?: unknown; reason?: FailureReason }) {
    super(message, options);
    this.name = 'NotSentError';
  }
}

/** The history's reason for an endpoint the worker must not reach. */
export const NOT_ALLOWED_REASON = 'not allowed by the network policy';
/** The history's reason for an endpoint no driver speaks. */
export const NO_DRIVER_REASON = 'no driver for this endpoint';
/** The history's reason for an endpoint that names nothing usable (bad parameters, no such machine node). */
export const UNUSABLE_ENDPOINT_REASON = 'endpoint not usable';

export class EndpointRejectedError extends Error {
  /** The history's fixed reason; the message is the detail, for the worker's log. */
  readonly reason: string;
  constructor(message: string, reason: string = UNUSABLE_ENDPOINT_REASON) {
    super(message);
    this.name = 'EndpointRejectedError';
    this.reason = reason;
  }
}

/**
 * The machine answered, and its answer is that the command failed, with the reason it gave
 * (REMOTEFAILED with this message, never retried). For drivers whose protocol carries a reason.
 */
export class MachineFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MachineFailedError';
  }
}

import type { Command } from '../domain/commands';
import type { NetworkPolicy } from './network-policy';
import type { OpcuaDriverContext } from './opcua-sessions';

/** What a machine answered: it did what it was told, or it reports that it could not. */
export type DriverOutcome = 'success' | 'failed';

/**
 * How the worker talks to one kind of machine. `execute` resolves with the machine's answer, throws
 * a TransportError when there is no usable answer (unreachable, timed out, nonsense: retried), and
 * an EndpointRejectedError when it must not even try (not retried).
 */
export interface MachineDriver {
  execute(command: Command, signal: AbortSignal): Promise<DriverOutcome>;
}

export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}

export class EndpointRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointRejectedError';
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

/** What every driver may need from the worker's configuration. */
export interface DriverContext {
  /** MACHINE_NETWORKS: where network drivers may connect. */
  policy: NetworkPolicy;
  /** Defaults of the simulated machine. */
  sim: { latencyMs: number; failRate: number };
  /** Sessions and settings of the OPC UA driver (`opc.tcp://`); without them that scheme is refused. */
  opcua?: OpcuaDriverContext;
}

/** Builds the driver of one endpoint; registered per URL scheme. */
export type DriverFactory = (endpoint: URL, context: DriverContext) => MachineDriver;

/** Turns an abort (timeout or shutdown) into the transport failure it is for the command. */
export function abortedError(signal: AbortSignal): TransportError {
  const reason = signal.reason as { name?: string } | undefined;
  return new TransportError(reason?.name === 'TimeoutError' ? 'timed out' : 'aborted', { cause: signal.reason });
}

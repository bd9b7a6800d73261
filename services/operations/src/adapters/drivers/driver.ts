import { type MachineDriver, NotSentError, TransportError } from '../../domain/machine-driver';
import type { NetworkPolicy } from './network-policy';
import type { OpcuaDriverContext } from './opcua-sessions';

// The port the drivers implement, declared by the domain; re-exported for the drivers' own imports.
export {
  type DriverOutcome,
  EndpointRejectedError,
  type FailureReason,
  MachineFailedError,
  type MachineDriver,
  NO_DRIVER_REASON,
  NOT_ALLOWED_REASON,
  NotSentError,
  TransportError,
  UNUSABLE_ENDPOINT_REASON,
} from '../../domain/machine-driver';

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

/**
 * Turns an abort (timeout) into the transport failure it is for the command: NotSentError when
 * nothing had reached the machine yet, a plain TransportError when something may have.
 */
export function abortedError(signal: AbortSignal, reached = true): TransportError {
  const reason = signal.reason as { name?: string } | undefined;
  const message = reason?.name === 'TimeoutError' ? 'timed out' : 'aborted';
  return reached
    ? new TransportError(message, { cause: signal.reason })
    : new NotSentError(message, { cause: signal.reason });
}

import { type StatusCode, StatusCodes } from 'node-opcua-client';
import type { Command } from '../../domain/commands';
import {
  abortedError,
  type DriverOutcome,
  EndpointRejectedError,
  type MachineDriver,
  MachineFailedError,
  NotSentError,
  TransportError,
} from './driver';
import type { OpcuaEndpoint } from './opcua-endpoint';
import { type JobMethod, JobStatus, MachineNodeMissingError, readEnumeration } from './opcua-nodes';
import type { LentSession, OpcuaDriverContext } from './opcua-sessions';
import { watchValues } from './opcua-watch';
import type { NetworkPolicy } from './network-policy';

/**
 * The connection broke after the method call was sent and the machine's state does not tell
 * whether it arrived: INTERNALFAILED, not retried (never sent again).
 */
export class OutcomeUnknownError extends EndpointRejectedError {
  override name = 'OutcomeUnknownError';
  /** Not retried (it may have arrived), and for the history: the machine gave no answer. */
  override readonly reason = 'no answer';
}

/** START calls StartJob and waits for JOB_IN_PRODUCTION; STOP ends the job with FinishJob. */
const PLANS: Record<Command, { method: JobMethod; target: number }> = {
  START: { method: 'StartJob', target: JobStatus.JOB_IN_PRODUCTION },
  STOP: { method: 'FinishJob', target: JobStatus.JOB_FINISHED },
};

/** The method was sent; from here on it is never sent again, only its effect awaited. */
interface SentCall {
  at: number;
  /** The server answered Good (so it arrived); false when the connection broke around the call. */
  answered: boolean;
}

/** Races a step before the call with the attempt's signal (timeout or shutdown). */
function limited<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortedError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function transportOf(error: unknown, what: string): Error {
  if (error instanceof TransportError || error instanceof EndpointRejectedError || error instanceof MachineFailedError)
    return error;
  const text = error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
  return new TransportError(`${what}: ${text}`, { cause: error });
}

class ConnectionLost extends Error {
  override name = 'ConnectionLost';
}

interface TransitionWatch {
  /** JobStatus as read once the subscription stood. */
  current: number;
  /**
   * Waits until `JobStatus` shows the target: at most `transitionTimeoutMs` after `since` (the
   * call), or `startupTimeoutMs` while a START shows START_UP_ACTIVE. Rejects with ConnectionLost
   * when the session breaks meanwhile.
   */
  wait(since: number): Promise<'reached' | 'no transition'>;
  stop(): void;
}

/** Subscribes to JobStatus before anything is called, so a quick transition is not missed. */
async function watchTransition(
  lent: LentSession,
  jobStatusNode: Parameters<typeof readEnumeration>[1],
  plan: { target: number; starting: boolean },
  context: OpcuaDriverContext,
): Promise<TransitionWatch> {
  const { transitionTimeoutMs, startupTimeoutMs } = context.settings;
  let latest: number | undefined;
  let waiting: { since: number; settle: (outcome: 'reached' | 'no transition' | Error) => void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lost = false;

  const arm = () => {
    if (!waiting) return;
    clearTimeout(timer);
    const startingUp = plan.starting && latest === JobStatus.START_UP_ACTIVE;
    const deadline = waiting.since + (startingUp ? startupTimeoutMs : transitionTimeoutMs);
    const settle = waiting.settle;
    timer = setTimeout(() => settle('no transition'), Math.max(0, deadline - Date.now()));
  };
  const onValue = (value: unknown) => {
    if (typeof value !== 'number') return;
    latest = value;
    if (!waiting) return;
    if (value === plan.target) waiting.settle('reached');
    else arm();
  };
  const stopListening = lent.onBroken(() => {
    lost = true;
    waiting?.settle(new ConnectionLost('the OPC UA session was lost'));
  });
  let watch: Awaited<ReturnType<typeof watchValues>> | undefined;
  const stop = () => {
    clearTimeout(timer);
    stopListening();
    void watch?.stop();
  };
  try {
    watch = await watchValues(lent.session, [jobStatusNode], (_i, value) => onValue(value));
    const current = await readEnumeration(lent.session, jobStatusNode, 'JobStatus');
    latest = current;
    return {
      current,
      wait(since) {
        return new Promise((resolve, reject) => {
          if (lost) return reject(new ConnectionLost('the OPC UA session was lost'));
          if (latest === plan.target) return resolve('reached');
          waiting = {
            since,
            settle: (outcome) => {
              waiting = undefined;
              clearTimeout(timer);
              if (outcome instanceof Error) reject(outcome);
              else resolve(outcome);
            },
          };
          arm();
        });
      },
      stop,
    };
  } catch (error) {
    stop();
    throw lost ? new ConnectionLost(String(error)) : error;
  }
}

/**
 * The OPC UA driver of one command (see `opcuaDriver` in `opcua.ts`, which checks the endpoint and
 * loads this module on first use). START calls `StartJob` and succeeds when `JobStatus` becomes
 * JOB_IN_PRODUCTION (6); STOP calls `FinishJob` and succeeds at JOB_FINISHED (8); a machine already
 * there succeeds without a call. A Bad method result is REMOTEFAILED with the status name; a Good
 * one without the transition in time is REMOTEFAILED "no transition". Once the call was sent it is
 * never sent again: a lost connection means reconnecting and reading `JobStatus` to decide.
 */
export function createOpcuaDriver(
  endpoint: OpcuaEndpoint,
  opcua: OpcuaDriverContext,
  policy: NetworkPolicy,
): MachineDriver {
  // One driver serves one command through all its attempts: what was sent is remembered here.
  let sent: SentCall | undefined;

  async function acquire(signal: AbortSignal): Promise<LentSession> {
    return limited(opcua.sessions.acquire(endpoint, policy, signal), signal);
  }

  /** After the call was sent: a fresh session, JobStatus read afresh, the transition awaited. */
  async function confirm(command: Command, call: SentCall, signal: AbortSignal): Promise<DriverOutcome> {
    const plan = PLANS[command];
    for (let reconnects = 0; ; reconnects++) {
      // Reconnecting is bounded by the connection timeout; a failure is retried by the worker,
      // which comes back here (sent is remembered), never to a second call.
      const lent = await acquire(AbortSignal.timeout(opcua.settings.connectTimeoutMs)).catch((error: unknown) => {
        throw signal.aborted ? abortedError(signal) : transportOf(error, 'reconnecting after the call');
      });
      let watch: TransitionWatch | undefined;
      try {
        const nodes = await lent.nodes(endpoint.device);
        watch = await watchTransition(
          lent,
          nodes.jobStatus,
          { target: plan.target, starting: command === 'START' },
          opcua,
        );
        if ((await watch.wait(call.at)) === 'reached') return 'success';
        if (call.answered) throw new MachineFailedError('no transition');
        throw new OutcomeUnknownError(
          `outcome unknown: the connection broke during ${plan.method} and JobStatus is still ${watch.current}`,
        );
      } catch (error) {
        // A connection that keeps breaking is left to the worker's retries (which come back here).
        if (error instanceof ConnectionLost && reconnects < 3) continue;
        throw transportOf(error, `waiting for ${plan.method} to take effect`);
      } finally {
        watch?.stop();
        lent.release();
      }
    }
  }

  /** Waits on the watch that stood before the call; a lost session continues on a new one. */
  async function settle(
    command: Command,
    transition: Promise<'reached' | 'no transition'>,
    call: SentCall,
  ): Promise<DriverOutcome> {
    try {
      if ((await transition) === 'reached') return 'success';
      throw new MachineFailedError('no transition');
    } catch (error) {
      if (error instanceof ConnectionLost) return confirm(command, call, new AbortController().signal);
      throw error;
    }
  }

  /** Before the method call went out nothing reached the machine: such a failure may be retried. */
  function notSentYet(error: unknown): unknown {
    if (sent || !(error instanceof TransportError) || error instanceof NotSentError) return error;
    return new NotSentError(error.message, { cause: error });
  }

  return {
    async execute(command, signal) {
      if (sent) return confirm(command, sent, signal);
      const plan = PLANS[command];
      const lent = await acquire(signal).catch((error: unknown) => {
        throw notSentYet(transportOf(error, 'connecting'));
      });
      let watch: TransitionWatch | undefined;
      try {
        const nodes = await limited(lent.nodes(endpoint.device), signal);
        watch = await limited(
          watchTransition(lent, nodes.jobStatus, { target: plan.target, starting: command === 'START' }, opcua),
          signal,
        );
        if (watch.current === plan.target) return 'success';
        if (command === 'START' && watch.current === JobStatus.START_UP_ACTIVE) {
          // A start is under way already (ours, from a worker that died): wait for it, call nothing.
          sent = { at: Date.now(), answered: true };
          return await settle(command, watch.wait(sent.at), sent);
        }
        if (signal.aborted) throw abortedError(signal);
        const call: SentCall = { at: Date.now(), answered: false };
        sent = call;
        // Waiting starts with the call: a machine that moves but never answers the call still counts.
        const transition = watch.wait(call.at);
        transition.catch(() => {});
        const answer = lent.session.call({
          objectId: nodes.activeJobValues,
          methodId: nodes.methods[plan.method],
          inputArguments: [],
        });
        const first = await Promise.race([
          answer.then(
            (result) => ({ kind: 'answer' as const, statusCode: result.statusCode as StatusCode }),
            () => ({ kind: 'lost' as const, statusCode: undefined }),
          ),
          transition.then(
            (outcome) => ({ kind: outcome, statusCode: undefined }),
            () => ({ kind: 'lost' as const, statusCode: undefined }),
          ),
        ]);
        if (first.kind === 'reached') return 'success';
        // Sent, but no answer: whether it arrived is for the machine's state to tell.
        if (first.kind === 'lost') return await confirm(command, call, signal);
        if (first.kind === 'no transition')
          throw new OutcomeUnknownError(
            `outcome unknown: no answer to ${plan.method} and no transition within ${opcua.settings.transitionTimeoutMs} ms`,
          );
        const { statusCode } = first;
        if (!statusCode) throw new TransportError('no status in the method result');
        if (statusCode.isNotGood()) {
          if (statusCode === StatusCodes.BadMethodInvalid || statusCode === StatusCodes.BadNodeIdUnknown)
            throw new MachineNodeMissingError(`method ${plan.method} not callable: ${statusCode.name}`);
          throw new MachineFailedError(statusCode.name);
        }
        call.answered = true;
        return await settle(command, transition, call);
      } catch (error) {
        throw notSentYet(transportOf(error, `talking to ${endpoint.serverUrl}`));
      } finally {
        watch?.stop();
        lent.release();
      }
    },
    /**
     * What the machine shows of a call whose answer was lost: this driver's own, or one a worker
     * that died had sent (its start-up under way or done counts; no transition stays unknown).
     */
    async observeOutcome(command, signal) {
      const call = sent ?? { at: Date.now(), answered: false };
      try {
        return await confirm(command, call, signal);
      } catch (error) {
        return error instanceof MachineFailedError ? 'failed' : undefined;
      }
    },
  };
}

import type { Logger } from '@imm/logging';
import { type Observation, UNREACHABLE } from '../../domain/observed-status';
import { EndpointRejectedError } from './driver';
import type { NetworkPolicy } from './network-policy';
import { parseOpcuaEndpoint } from './opcua-endpoint';
import { loadOpcua } from './opcua-loader';
import type { OpcuaSessionPool } from './opcua-sessions';

export interface MachineWatcherOptions {
  machineId: number;
  endpoint: string;
  /** Sessions shared with the driver: one per server endpoint, however many machines it has. */
  sessions: OpcuaSessionPool;
  /** Limit of one attempt to get a session. */
  connectTimeoutMs: number;
  policy: NetworkPolicy;
  /** Unreachable this long, counted from the moment the connection was lost: reported unreachable. */
  offlineAfterMs: number;
  /** Wait between connection attempts. */
  reconnectMs: number;
  onObservation(observation: Observation): void;
  logger: Logger;
}

export interface MachineWatcher {
  stop(): Promise<void>;
}

/**
 * One machine's subscription to `JobStatus` and `MachineMode`. Every value it reports becomes an
 * observation; when the connection or session is lost it reconnects, and after `offlineAfterMs`
 * without one it reports the machine unreachable. On each reconnect both values are read afresh.
 */
export function startMachineWatcher(options: MachineWatcherOptions): MachineWatcher {
  const { machineId, logger } = options;
  const log = logger.child({ machineId });
  let stopped = false;
  let wake: (() => void) | undefined;
  let offlineTimer: NodeJS.Timeout | undefined;
  let lostSince: number | undefined;
  let lastProblem = '';

  const wakeable = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  function markLost(): void {
    if (lostSince !== undefined) return;
    lostSince = Date.now();
    offlineTimer = setTimeout(() => {
      if (!stopped) options.onObservation(UNREACHABLE);
    }, options.offlineAfterMs);
  }

  async function watchOnce(): Promise<void> {
    const endpoint = parseOpcuaEndpoint(new URL(options.endpoint));
    // node-opcua is loaded by the first machine watched, not with the monitor.
    const { readEnumeration, watchValues } = await loadOpcua();
    const lent = await options.sessions.acquire(
      endpoint,
      options.policy,
      AbortSignal.timeout(options.connectTimeoutMs),
    );
    try {
      const broken = new Promise<void>((resolve) => lent.onBroken(resolve));
      const nodes = await lent.nodes(endpoint.device);
      const values: { jobStatus?: number; machineMode?: number } = {};
      const report = () => {
        if (values.jobStatus === undefined || values.machineMode === undefined || stopped) return;
        options.onObservation({ reachable: true, jobStatus: values.jobStatus, machineMode: values.machineMode });
      };
      const watch = await watchValues(lent.session, [nodes.jobStatus, nodes.machineMode], (index, value) => {
        if (typeof value !== 'number') return;
        if (index === 0) values.jobStatus = value;
        else values.machineMode = value;
        report();
      });
      try {
        // Read afresh, never remembered from before the loss.
        values.jobStatus = await readEnumeration(lent.session, nodes.jobStatus, 'JobStatus');
        values.machineMode = await readEnumeration(lent.session, nodes.machineMode, 'MachineMode');
        clearTimeout(offlineTimer);
        lostSince = undefined;
        lastProblem = '';
        report();
        log.info({ endpoint: options.endpoint }, 'watching the machine');
        if (!stopped) await Promise.race([broken, wakeable()]);
      } finally {
        await watch.stop();
      }
    } finally {
      lent.release();
    }
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        await watchOnce();
      } catch (error) {
        const problem = error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
        // Said once per distinct problem, not at every reconnect.
        if (problem !== lastProblem) {
          const level = error instanceof EndpointRejectedError ? 'warn' : 'info';
          log[level]({ endpoint: options.endpoint, problem }, 'machine not watchable');
          lastProblem = problem;
        }
      }
      if (stopped) break;
      markLost();
      await wakeable(options.reconnectMs);
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(offlineTimer);
      wake?.();
      await loop;
    },
  };
}

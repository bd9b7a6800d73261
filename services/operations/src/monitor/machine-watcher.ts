import type { Logger } from '@imm/logging';
import type { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { EndpointRejectedError } from '../drivers/driver';
import type { NetworkPolicy } from '../drivers/network-policy';
import { parseOpcuaEndpoint } from '../drivers/opcua-endpoint';
import { findMachineNodes, readEnumeration } from '../drivers/opcua-nodes';
import { allowedAddress, type OpcuaConnection, type OpcuaSettings, openConnection } from '../drivers/opcua-sessions';
import { watchValues } from '../drivers/opcua-watch';
import { type Observation, UNREACHABLE } from '../domain/observed-status';

export interface MachineWatcherOptions {
  machineId: number;
  endpoint: string;
  settings: OpcuaSettings;
  certificateManager: OPCUACertificateManager;
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
  const { machineId, settings, logger } = options;
  const log = logger.child({ machineId });
  let stopped = false;
  let connection: OpcuaConnection | undefined;
  let wake: (() => void) | undefined;
  let offlineTimer: NodeJS.Timeout | undefined;
  let lostSince: number | undefined;
  let lastProblem = '';

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
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
    const address = await allowedAddress(endpoint.host, options.policy);
    connection = await openConnection(endpoint, address, settings, options.certificateManager);
    const open = connection;
    const broken = new Promise<void>((resolve) => open.onBroken(resolve));
    if (stopped) return;
    const nodes = await findMachineNodes(open.session, endpoint.device);
    const values: { jobStatus?: number; machineMode?: number } = {};
    const report = () => {
      if (values.jobStatus === undefined || values.machineMode === undefined || stopped) return;
      options.onObservation({ reachable: true, jobStatus: values.jobStatus, machineMode: values.machineMode });
    };
    const watch = await watchValues(open.session, [nodes.jobStatus, nodes.machineMode], (index, value) => {
      if (typeof value !== 'number') return;
      if (index === 0) values.jobStatus = value;
      else values.machineMode = value;
      report();
    });
    try {
      // Read afresh, never remembered from before the loss.
      values.jobStatus = await readEnumeration(open.session, nodes.jobStatus, 'JobStatus');
      values.machineMode = await readEnumeration(open.session, nodes.machineMode, 'MachineMode');
      clearTimeout(offlineTimer);
      lostSince = undefined;
      lastProblem = '';
      report();
      log.info({ endpoint: options.endpoint }, 'watching the machine');
      await Promise.race([broken, new Promise<void>((resolve) => (wake = resolve))]);
    } finally {
      await watch.stop();
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
      await connection?.close();
      connection = undefined;
      if (stopped) break;
      markLost();
      await sleep(options.reconnectMs);
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearTimeout(offlineTimer);
      wake?.();
      await connection?.close();
      await loop;
    },
  };
}

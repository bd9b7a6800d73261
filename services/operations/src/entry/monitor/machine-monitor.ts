import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Bus } from '@imm/bus';
import type { Logger } from '@imm/logging';
import type { WatchRepository } from '../../adapters/data/watch-repository';
import type { Observation } from '../../domain/observed-status';
import { publishObservation } from '../../domain/publish-observation';
import { opcuaMachines } from '../../adapters/events/machine-endpoints';
import type { NetworkPolicy } from '../../adapters/drivers/network-policy';
import type { OpcuaSessionPool, OpcuaSettings } from '../../adapters/drivers/opcua-sessions';
import { type MachineWatcher, startMachineWatcher } from '../../adapters/drivers/opcua-machine-watcher';

export interface MachineMonitorOptions {
  bus: Bus;
  repository: WatchRepository;
  settings: OpcuaSettings;
  /** The driver's sessions: one per server, shared by commands and subscriptions. */
  sessions: OpcuaSessionPool;
  policy: NetworkPolicy;
  offlineAfterMs: number;
  /** How often to look for created, changed and deleted machines. */
  syncMs: number;
  leaseMs: number;
  logger: Logger;
  /** An observation was recorded in the outbox. */
  onPublished?: () => void;
}

export interface MachineMonitor {
  /** This replica's name in the leases. */
  holder: string;
  /** The machines this replica watches now. */
  watching(): number[];
  stop(): Promise<void>;
}

interface Watched {
  machineId: number;
  endpoint: string;
  watcher: MachineWatcher;
  latest?: Observation;
  flushing: boolean;
  again: boolean;
  retry?: NodeJS.Timeout;
}

/** While one of our commands is pending on the machine, its observation waits this long and tries again. */
const PENDING_RETRY_MS = 500;
const ERROR_RETRY_MS = 2000;

/**
 * The OPC UA status monitor: one subscription per machine across every replica. Each replica
 * periodically lists the `opc.tcp://` machines (`machines.machine.endpoints`), renews its leases in
 * `machine_watch` and takes free or expired ones up to a fair share, watches those it holds, and
 * publishes what they report (see `publishObservation`). A replica that dies leaves its leases to
 * expire (`leaseMs`); one that stops gives them up at once.
 */
export function startMachineMonitor(options: MachineMonitorOptions): MachineMonitor {
  const { repository, logger, leaseMs } = options;
  const holder = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const log = logger.child({ component: 'status-monitor', holder });
  const watched = new Map<number, Watched>();
  const intervalMs = Math.max(100, Math.min(options.syncMs, Math.floor(leaseMs / 3)));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let heldAt = Date.now();
  let running: Promise<void> = Promise.resolve();

  async function flush(entry: Watched): Promise<void> {
    if (entry.flushing) {
      entry.again = true;
      return;
    }
    entry.flushing = true;
    clearTimeout(entry.retry);
    try {
      do {
        entry.again = false;
        const observation = entry.latest;
        if (!observation || stopped || watched.get(entry.machineId) !== entry) return;
        const outcome = await publishObservation(repository, holder, entry.machineId, entry.endpoint, observation);
        if (outcome === 'published') {
          log.info({ machineId: entry.machineId, ...observation }, 'machine status observed');
          options.onPublished?.();
        } else if (outcome === 'pending') {
          entry.retry = setTimeout(() => void flush(entry), PENDING_RETRY_MS);
        }
      } while (entry.again);
    } catch (error) {
      log.warn({ err: error, machineId: entry.machineId }, 'recording an observation failed; will retry');
      entry.retry = setTimeout(() => void flush(entry), ERROR_RETRY_MS);
    } finally {
      entry.flushing = false;
    }
  }

  function watch(machineId: number, endpoint: string): void {
    const entry: Watched = {
      machineId,
      endpoint,
      flushing: false,
      again: false,
      watcher: startMachineWatcher({
        machineId,
        endpoint,
        sessions: options.sessions,
        connectTimeoutMs: options.settings.connectTimeoutMs,
        policy: options.policy,
        offlineAfterMs: options.offlineAfterMs,
        reconnectMs: Math.min(2000, options.offlineAfterMs / 3),
        logger: log,
        onObservation(observation) {
          entry.latest = observation;
          void flush(entry);
        },
      }),
    };
    watched.set(machineId, entry);
  }

  async function unwatch(entry: Watched): Promise<void> {
    watched.delete(entry.machineId);
    clearTimeout(entry.retry);
    await entry.watcher.stop();
  }

  async function syncOnce(): Promise<void> {
    try {
      await repository.syncMachines(await opcuaMachines(options.bus, 3000));
    } catch (error) {
      // Without the list, the leases still renew: nothing is dropped for a passing outage.
      log.warn({ err: error }, 'machine list not refreshed');
    }
    let held: { machineId: number; endpoint: string }[];
    try {
      held = await repository.holdLeases(holder, leaseMs);
      heldAt = Date.now();
    } catch (error) {
      log.warn({ err: error }, 'leases not renewed');
      // Past the lease another replica may hold these machines: stop watching them.
      if (Date.now() - heldAt >= leaseMs) await Promise.all([...watched.values()].map(unwatch));
      return;
    }
    const wanted = new Map(held.map((m) => [m.machineId, m.endpoint]));
    const changes: Promise<void>[] = [];
    for (const entry of watched.values()) {
      if (wanted.get(entry.machineId) !== entry.endpoint) changes.push(unwatch(entry));
    }
    await Promise.all(changes);
    for (const [machineId, endpoint] of wanted) {
      if (!watched.has(machineId) && !stopped) watch(machineId, endpoint);
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = syncOnce()
        .catch((error: unknown) => log.error({ err: error }, 'status monitor pass failed'))
        .finally(schedule);
    }, intervalMs);
  }
  running = syncOnce()
    .catch((error: unknown) => log.error({ err: error }, 'status monitor pass failed'))
    .finally(schedule);
  log.info({ intervalMs, leaseMs }, 'OPC UA status monitor started');

  return {
    holder,
    watching: () => [...watched.keys()],
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => {});
      await Promise.all([...watched.values()].map(unwatch));
      await repository.releaseLeases(holder).catch((error: unknown) => log.warn({ err: error }, 'leases not released'));
    },
  };
}

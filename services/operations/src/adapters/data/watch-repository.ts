import { OperationResult } from '@imm/contracts';
import type { Database, EntityManager } from '@imm/db';
import type { ObservationStore, ObservationTransaction } from '../../domain/publish-observation';
import { recordStatusObserved } from '../events/operation-events';

export interface WatchedMachine {
  machineId: number;
  endpoint: string;
}

interface WatchRow {
  endpoint: string;
  holder: string | null;
  live: boolean;
  job_status: number | null;
  machine_mode: number | null;
  reachable: boolean | null;
}

/** The statements of publishing one observation (row lock, our commands, the new row and its event). */
function observationTransactionOf(tx: EntityManager): ObservationTransaction {
  return {
    async watched(machineId) {
      const [row] = await tx.execute<WatchRow[]>(
        `select endpoint, holder, lease_until > now() as live, job_status, machine_mode, reachable
         from machine_watch where machine_id = ? for update`,
        [machineId],
      );
      if (!row) return undefined;
      return {
        endpoint: row.endpoint,
        holder: row.holder,
        live: row.live === true,
        previous:
          row.reachable === null
            ? null
            : { reachable: row.reachable, jobStatus: row.job_status, machineMode: row.machine_mode },
      };
    },

    async commandsOn(machineId) {
      const [row] = await tx.execute<{ pending: boolean; decided: number | string | null }[]>(
        `select exists(select 1 from operation where machine_id = ? and result = ?) as pending,
                (select max(id) from operation where machine_id = ? and result in (?, ?)) as decided`,
        [machineId, OperationResult.PENDING, machineId, OperationResult.SUCCESS, OperationResult.REMOTEFAILED],
      );
      const decided = row?.decided;
      return {
        pending: row?.pending === true,
        decided: decided === null || decided === undefined ? null : Number(decided),
      };
    },

    async publish(machineId, observation, event) {
      await tx.execute(
        'update machine_watch set job_status = ?, machine_mode = ?, reachable = ?, observed_at = now() where machine_id = ?',
        [observation.jobStatus, observation.machineMode, observation.reachable, machineId],
      );
      recordStatusObserved(tx, event);
    },
  };
}

/**
 * The status monitor's table (`machine_watch`): which machines to watch, the lease each replica
 * holds on its machines, and the last observation published per machine.
 */
export function createWatchRepository(orm: Database) {
  const fork = () => orm.em.fork();
  const seconds = (ms: number) => ms / 1000;

  const store = {
    /** Makes the table list exactly these machines; a changed endpoint starts from no observation. */
    async syncMachines(machines: WatchedMachine[]): Promise<void> {
      // One JSON parameter: the query builder would spread an array into a list of parameters.
      const list = JSON.stringify(machines.map((m) => ({ machine_id: m.machineId, endpoint: m.endpoint })));
      await fork().transactional(async (tx) => {
        await tx.execute(
          `delete from machine_watch where machine_id not in
             (select machine_id from json_to_recordset(?::json) as t(machine_id int, endpoint text))`,
          [list],
        );
        await tx.execute(
          `insert into machine_watch (machine_id, endpoint)
           select machine_id, endpoint from json_to_recordset(?::json) as t(machine_id int, endpoint text)
           on conflict (machine_id) do update
             set endpoint = excluded.endpoint, job_status = null, machine_mode = null, reachable = null, observed_at = null
             where machine_watch.endpoint <> excluded.endpoint`,
          [list],
        );
      });
    },

    /**
     * Renews this replica's leases and takes free or expired ones up to a fair share (machines
     * divided by the replicas alive); gives back what it holds beyond that share, for a replica
     * that joined. Returns every machine it holds now.
     */
    async holdLeases(holder: string, leaseMs: number): Promise<WatchedMachine[]> {
      return fork().transactional(async (tx) => {
        const lease = seconds(leaseMs);
        await tx.execute(
          `insert into monitor_replica (holder, alive_until) values (?, now() + make_interval(secs => ?))
           on conflict (holder) do update set alive_until = excluded.alive_until`,
          [holder, lease],
        );
        await tx.execute('delete from monitor_replica where alive_until < now() - make_interval(secs => ?)', [lease]);
        await tx.execute(
          'update machine_watch set lease_until = now() + make_interval(secs => ?) where holder = ? and lease_until > now()',
          [lease, holder],
        );
        const [counts] = await tx.execute<{ total: string; replicas: string; mine: string }[]>(
          `select (select count(*) from machine_watch) as total,
                  (select count(*) from monitor_replica where alive_until > now()) as replicas,
                  (select count(*) from machine_watch where holder = ? and lease_until > now()) as mine`,
          [holder],
        );
        const share = Math.ceil(Number(counts?.total ?? 0) / Math.max(1, Number(counts?.replicas ?? 1)));
        const mine = Number(counts?.mine ?? 0);
        if (mine < share) {
          await tx.execute(
            `update machine_watch set holder = ?, lease_until = now() + make_interval(secs => ?)
             where machine_id in (
               select machine_id from machine_watch
               where holder is null or lease_until is null or lease_until <= now()
               order by machine_id limit ? for update skip locked)`,
            [holder, lease, share - mine],
          );
        } else if (mine > share) {
          await tx.execute(
            `update machine_watch set holder = null, lease_until = null
             where machine_id in (
               select machine_id from machine_watch where holder = ? and lease_until > now()
               order by machine_id desc limit ?)`,
            [holder, mine - share],
          );
        }
        const rows = await tx.execute<{ machine_id: number; endpoint: string }[]>(
          'select machine_id, endpoint from machine_watch where holder = ? and lease_until > now() order by machine_id',
          [holder],
        );
        return rows.map((r) => ({ machineId: r.machine_id, endpoint: r.endpoint }));
      });
    },

    /** Gives this replica's machines up at once (a clean shutdown), so another takes them now. */
    async releaseLeases(holder: string): Promise<void> {
      await fork().transactional(async (tx) => {
        await tx.execute('update machine_watch set holder = null, lease_until = null where holder = ?', [holder]);
        await tx.execute('delete from monitor_replica where holder = ?', [holder]);
      });
    },

    /** The transaction in which the domain decides whether an observation is published. */
    withObservationTransaction<T>(work: (tx: ObservationTransaction) => Promise<T>): Promise<T> {
      return fork().transactional((em) => work(observationTransactionOf(em)));
    },
  };
  return store satisfies ObservationStore;
}

export type WatchRepository = ReturnType<typeof createWatchRepository>;

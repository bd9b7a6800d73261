/**
 * Bulk data for the growth runs, written straight into the run's own database: 100,000 machines or
 * a million history entries through the API would take longer than the whole benchmark. The rows
 * are what the services themselves would have written (columns and constraints as their
 * migrations define them); the machine count trigger keeps the exact count, and every entry is
 * finished, since only one PENDING entry per machine is allowed.
 */
import { query } from '@imm/testing';
import { BENCH_ENDPOINT } from './seed-api';

const count = async (databaseUrl: string, table: string, where = 'true', params: unknown[] = []) =>
  Number((await query<{ n: string }>(databaseUrl, `select count(*) as n from ${table} where ${where}`, params))[0]?.n);

/** Adds machines until there are `total`; names continue `press-N`, statuses spread as in a plant. */
export async function growMachines(databaseUrl: string, total: number, ownerId: number): Promise<number> {
  const current = await count(databaseUrl, 'machines.machine');
  if (current < total) {
    await query(
      databaseUrl,
      `insert into machines.machine (name, location, status, owner_id, endpoint, created_at, updated_at)
       select 'press-' || i, 'hall-' || (i % 5), (array[1,2,2,2,2,3,4,4,5])[(1 + (i * 7919) % 9)::int], $3, $4,
              now() - ((i * 7919) % 31536000) * interval '1 second', now() - ((i * 104729) % 31536000) * interval '1 second'
       from generate_series($1::bigint, $2::bigint) as i`,
      [current + 1, total, ownerId, BENCH_ENDPOINT],
    );
    // Fresh statistics and visibility map, as autovacuum would leave them on a table this size.
    await query(databaseUrl, 'vacuum analyze machines.machine');
  }
  return count(databaseUrl, 'machines.machine');
}

/**
 * Adds finished history entries of one user until that user has `total`: a tenth on `hotMachine`
 * (whose own history is measured), the rest spread over the machines that exist.
 */
export async function growHistory(
  databaseUrl: string,
  total: number,
  userId: number,
  hotMachine: number,
): Promise<number> {
  const current = await count(databaseUrl, 'operations.operation', 'worker = $1', [userId]);
  if (current < total) {
    const machines = await count(databaseUrl, 'machines.machine');
    await query(
      databaseUrl,
      `insert into operations.operation (request_datetime, command, worker, machine_id, machine_owner_id, result,
                                         message, endpoint, created_at, finished_at)
       select at, case when i % 2 = 0 then 'START' else 'STOP' end, $3,
              case when i % 10 = 0 then $4 else 1 + (i * 7919) % $5 end, $3,
              (array[1,1,1,1,1,1,1,2,3])[(1 + i % 9)::int],
              case when i % 9 = 8 then 'machine unreachable' end, $6, at, at + interval '20 milliseconds'
       from generate_series($1::bigint, $2::bigint) as i,
            lateral (select now() - interval '400 days' + i * interval '10 milliseconds' as at) as t`,
      [current + 1, total, userId, hotMachine, Math.max(1, machines), BENCH_ENDPOINT],
    );
    await query(databaseUrl, 'vacuum analyze operations.operation');
  }
  return count(databaseUrl, 'operations.operation', 'worker = $1', [userId]);
}

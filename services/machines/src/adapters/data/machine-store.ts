import { type Database, sqlQuery, sqlTransaction } from '@imm/db';
import type { MachineFilter, Ordering } from '../../domain/listing';
import type { MachineStore } from '../../domain/machine-service';
import { type MachineRecord, machineOf, storable } from './machine-rows';
import { machineTransactionOf } from './machine-transaction';

/** `%`, `_` and `\` are LIKE's wildcards and escape; a search matches them literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The WHERE clause of a filter, with `$n` placeholders numbered from 1 in `params`' order. */
function whereOf(filter: MachineFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  if (filter.status !== undefined) clauses.push(`status = ${param(filter.status)}`);
  if (filter.ownerId !== undefined) clauses.push(`owner_id = ${param(filter.ownerId)}`);
  if (filter.search !== undefined) {
    const pattern = param(`%${escapeLike(filter.search)}%`);
    // Backslash is LIKE's default escape character; the trigram indexes on lower(name) and
    // lower(location) serve both sides of the OR.
    clauses.push(`(lower(name) like lower(${pattern}) or lower(location) like lower(${pattern}))`);
  }
  return { sql: clauses.length > 0 ? `where ${clauses.join(' and ')}` : '', params };
}

/** Column names come from this fixed map only, never from the request. */
const orderColumns: Record<Ordering['field'], string> = {
  id: 'id',
  name: 'name',
  status: 'status',
  created_at: 'created_at',
  updated_at: 'updated_at',
};

function orderBy(ordering: Ordering, alias = ''): string {
  const direction = ordering.descending ? 'desc' : 'asc';
  const column = `${alias}${orderColumns[ordering.field]}`;
  // Always ends in id, so pages never overlap or skip rows that tie.
  return ordering.field === 'id' ? `${column} ${direction}` : `${column} ${direction}, ${alias}id ${direction}`;
}

export interface MachineStoreOptions {
  /** Called after a transaction that recorded events committed (to wake the outbox relay). */
  onEventsCommitted?: () => void;
}

/**
 * The machines' persistence: SQL of its own on node-postgres (through the ORM's pool), since every
 * request reads or writes here; MikroORM keeps the schema and its migrations.
 */
export function createMachineStore(orm: Database, options: MachineStoreOptions = {}): MachineStore {
  return {
    async transaction(work) {
      const recorded = { count: 0 };
      const result = await sqlTransaction(orm, (tx) => work(machineTransactionOf(tx, recorded)));
      if (recorded.count > 0) options.onEventsCommitted?.();
      return result;
    },

    async findMachine(id) {
      if (!storable(id)) return undefined;
      const [row] = await sqlQuery<MachineRecord>(orm, 'select * from machine where id = $1', [id], 'machine_by_id');
      return row ? machineOf(row) : undefined;
    },

    async countMachines(filter) {
      const where = whereOf(filter);
      // Unfiltered: the trigger-maintained counter (16 rows) instead of counting the table.
      // Filtered: an index-only count over the filter's index (measured in bench/list.ts).
      const [row] = where.sql
        ? await sqlQuery<{ n: string }>(orm, `select count(*) as n from machine ${where.sql}`, where.params)
        : await sqlQuery<{ n: string }>(orm, 'select coalesce(sum(n), 0) as n from machine_count', [], 'machine_total');
      return Number(row?.n ?? 0);
    },

    async listEndpoints(scheme) {
      return orm.em
        .getConnection()
        .execute<{ id: number; endpoint: string }[]>(
          'select id, endpoint from machine where endpoint like ? order by id',
          [`${escapeLike(scheme)}://%`],
        );
    },

    async listMachines(filter, ordering, offset, limit) {
      const where = whereOf(filter);
      const page = `$${where.params.length + 1} offset $${where.params.length + 2}`;
      // The page's ids first, from the ordering's index alone (a deep OFFSET then skips index
      // entries, not table rows), then those rows.
      const rows = await sqlQuery<MachineRecord>(
        orm,
        `select m.* from machine m
         join (select id from machine ${where.sql} order by ${orderBy(ordering)} limit ${page}) page on page.id = m.id
         order by ${orderBy(ordering, 'm.')}`,
        [...where.params, limit, offset],
      );
      return rows.map(machineOf);
    },
  };
}

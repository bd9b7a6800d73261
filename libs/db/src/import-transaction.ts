import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from './open-database';

/** What an import's transaction counts: summary events recorded, to wake the relay after commit. */
export interface RecordedEvents {
  count: number;
}

/**
 * One import's transaction, as every service's import entry point runs it: serialized across
 * replicas by the advisory lock `lock`, and `onEventsCommitted` called after a commit that
 * recorded events.
 */
export async function importTransaction<Tx, T>(
  orm: Database,
  lock: number,
  open: (em: EntityManager, recorded: RecordedEvents) => Tx,
  work: (tx: Tx) => Promise<T>,
  onEventsCommitted?: () => void,
): Promise<T> {
  const recorded: RecordedEvents = { count: 0 };
  const result = await orm.em.fork().transactional(async (em) => {
    await em.execute('select pg_advisory_xact_lock(?)', [lock]);
    return work(open(em, recorded));
  });
  if (recorded.count > 0) onEventsCommitted?.();
  return result;
}

/**
 * Moves `table`'s id sequence past the highest id it holds, never backwards: an insert in flight
 * may hold an id the sequence already gave out.
 */
export async function continueIdsAfterMax(em: EntityManager, table: string): Promise<void> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`);
  await em.execute(`select setval(pg_get_serial_sequence('${table}', 'id'),
    greatest((select max(id) from ${table}), pg_sequence_last_value(pg_get_serial_sequence('${table}', 'id')::regclass)))`);
}

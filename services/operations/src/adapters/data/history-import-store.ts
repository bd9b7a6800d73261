import type { ImportedHistoryEntry } from '@imm/contracts';
import { continueIdsAfterMax, type Database, type EntityManager, executeBound, importTransaction } from '@imm/db';
import type { HistoryImportStore, HistoryImportTransaction } from '../../domain/import-history';
import { recordHistoryImported } from '../events/history-imported';

/** Advisory lock key ("IMPO") that serializes import runs; commands go on meanwhile. */
const IMPORT_LOCK = 0x494d504f;

function transactionOf(em: EntityManager, recorded: { count: number }): HistoryImportTransaction {
  return {
    async held(ids) {
      // Ids travel as one JSON parameter: the driver would spread an array into `?, ?, ?`.
      const rows = await em.execute<{ id: number; imported: boolean }[]>(
        `select id, imported_at is not null as imported from operation
         where id in (select value::integer from jsonb_array_elements_text(?::jsonb))`,
        [JSON.stringify(ids)],
      );
      return {
        takenIds: new Set(rows.filter((r) => !r.imported).map((r) => r.id)),
        importedIds: new Set(rows.filter((r) => r.imported).map((r) => r.id)),
      };
    },

    async insertEntries(rows: ImportedHistoryEntry[]) {
      // One parameter however many rows: Postgres takes at most 65535 per statement. The old
      // service recorded no finishing time, message or endpoint.
      await executeBound(
        em,
        `insert into operation (id, request_datetime, command, worker, machine_id, machine_owner_id, result,
                                created_at, imported_at)
         select id, request_datetime, command, worker, machine_id, machine_owner_id, result, created_at, now()
         from jsonb_to_recordset(?::jsonb) as r(id integer, request_datetime timestamptz, command text,
           worker integer, machine_id integer, machine_owner_id integer, result smallint, created_at timestamptz)`,
        [JSON.stringify(rows)],
      );
    },

    continueIds: () => continueIdsAfterMax(em, 'operation'),

    recordImported(runId, ids) {
      recordHistoryImported(em, runId, ids);
      recorded.count += 1;
    },
  };
}

export function createHistoryImportStore(
  orm: Database,
  options: { onEventsCommitted?: () => void } = {},
): HistoryImportStore {
  return {
    transaction: (work) => importTransaction(orm, IMPORT_LOCK, transactionOf, work, options.onEventsCommitted),
  };
}

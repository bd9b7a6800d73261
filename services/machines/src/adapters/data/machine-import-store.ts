import type { ImportedMachine } from '@imm/contracts';
import { continueIdsAfterMax, type Database, type EntityManager, executeBound, importTransaction } from '@imm/db';
import type { MachineImportStore, MachineImportTransaction } from '../../domain/import-machines';
import { recordMachinesImported } from '../events/machines-imported';

/** Advisory lock key ("IMPM") that serializes import runs; the API goes on meanwhile. */
const IMPORT_LOCK = 0x494d504d;

/** Lists travel as one JSON parameter: the driver would spread an array into `?, ?, ?`. */
const jsonList = (values: unknown[]) => JSON.stringify(values);

function transactionOf(em: EntityManager, recorded: { count: number }): MachineImportTransaction {
  return {
    async held(ids) {
      const list = jsonList(ids);
      const [taken, imported] = await Promise.all([
        em.execute<{ id: number }[]>(
          'select id from machine where id in (select value::integer from jsonb_array_elements_text(?::jsonb))',
          [list],
        ),
        em.execute<{ machine_id: number }[]>(
          'select machine_id from imported_machine where machine_id in (select value::integer from jsonb_array_elements_text(?::jsonb))',
          [list],
        ),
      ]);
      return { takenIds: new Set(taken.map((r) => r.id)), importedIds: new Set(imported.map((r) => r.machine_id)) };
    },

    async insertMachines(rows: ImportedMachine[], runId: string) {
      // One parameter however many rows: Postgres takes at most 65535 per statement.
      await executeBound(
        em,
        `insert into machine (id, name, location, status, owner_id, endpoint, created_at, updated_at, last_operation_id)
         select id, name, location, status, owner_id, endpoint, created_at, updated_at, last_operation_id
         from jsonb_to_recordset(?::jsonb) as r(id integer, name text, location text, status smallint,
           owner_id integer, endpoint text, created_at timestamptz, updated_at timestamptz, last_operation_id bigint)`,
        [JSON.stringify(rows)],
      );
      await em.execute(
        'insert into imported_machine (machine_id, run_id) select value::integer, ? from jsonb_array_elements_text(?::jsonb)',
        [runId, jsonList(rows.map((r) => r.id))],
      );
    },

    continueIds: () => continueIdsAfterMax(em, 'machine'),

    recordImported(runId, ids) {
      recordMachinesImported(em, runId, ids);
      recorded.count += 1;
    },
  };
}

export function createMachineImportStore(
  orm: Database,
  options: { onEventsCommitted?: () => void } = {},
): MachineImportStore {
  return {
    transaction: (work) => importTransaction(orm, IMPORT_LOCK, transactionOf, work, options.onEventsCommitted),
  };
}

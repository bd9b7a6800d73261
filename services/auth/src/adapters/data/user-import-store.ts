import type { ImportedUser } from '@imm/contracts';
import { continueIdsAfterMax, type Database, type EntityManager, executeBound, importTransaction } from '@imm/db';
import type { HeldUser, UserImportStore, UserImportTransaction } from '../../domain/import-users';
import { recordUsersImported } from '../events/users-imported';

/** Advisory lock key ("IMPU") that serializes import runs; sign-ups go on meanwhile. */
const IMPORT_LOCK = 0x494d5055;

/** Lists travel as one JSON parameter: the driver would spread an array into `?, ?, ?`. */
const jsonList = (values: unknown[]) => JSON.stringify(values);

function transactionOf(em: EntityManager, recorded: { count: number }): UserImportTransaction {
  return {
    async held(rows) {
      const ids = jsonList(rows.map((r) => r.id));
      const users = await em.execute<HeldUser[]>(
        `select id, username, email from users
         where id in (select value::integer from jsonb_array_elements_text(?::jsonb))
            or username in (select value from jsonb_array_elements_text(?::jsonb))
            or lower(email) in (select value from jsonb_array_elements_text(?::jsonb))
            or username = 'admin'`,
        [
          ids,
          jsonList(rows.map((r) => r.username)),
          jsonList(rows.filter((r) => r.email).map((r) => r.email.toLowerCase())),
        ],
      );
      const imported = await em.execute<{ user_id: number }[]>(
        'select user_id from imported_user where user_id in (select value::integer from jsonb_array_elements_text(?::jsonb))',
        [ids],
      );
      return { users, importedIds: new Set(imported.map((r) => r.user_id)) };
    },

    async deleteUser(id) {
      await em.execute('delete from users where id = ?', [id]);
    },

    async insertUsers(rows: ImportedUser[], runId: string) {
      // One parameter however many rows: Postgres takes at most 65535 per statement.
      await executeBound(
        em,
        `insert into users (id, username, email, password, first_name, last_name, is_staff, is_active,
                            is_superuser, last_login, date_joined)
         select id, username, email, password, first_name, last_name, is_staff, is_active,
                is_superuser, last_login, date_joined
         from jsonb_to_recordset(?::jsonb) as r(id integer, username text, email text, password text,
           first_name text, last_name text, is_staff boolean, is_active boolean, is_superuser boolean,
           last_login timestamptz, date_joined timestamptz)`,
        [JSON.stringify(rows)],
      );
      await em.execute(
        'insert into imported_user (user_id, run_id) select value::integer, ? from jsonb_array_elements_text(?::jsonb)',
        [runId, jsonList(rows.map((r) => r.id))],
      );
    },

    continueIds: () => continueIdsAfterMax(em, 'users'),

    recordImported(runId, ids) {
      recordUsersImported(em, runId, ids);
      recorded.count += 1;
    },
  };
}

export function createUserImportStore(
  orm: Database,
  options: { onEventsCommitted?: () => void } = {},
): UserImportStore {
  return {
    transaction: (work) => importTransaction(orm, IMPORT_LOCK, transactionOf, work, options.onEventsCommitted),
  };
}

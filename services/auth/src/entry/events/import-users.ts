import { type Bus, readTransfer, serveRequests } from '@imm/bus';
import { encodeImportReply, usersImportPartSchema } from '@imm/contracts';
import { importUsers, type UserImportStore } from '../../domain/import-users';

/**
 * The auth service's import entry point: answers `auth.import.users` from the Django import tool
 * with the users part it left in the transfer store, checked or written in one transaction.
 */
export function serveImportUsers(bus: Bus, store: UserImportStore): { stop(): Promise<void> } {
  return serveRequests(bus, 'auth.import.users', async ({ run_id, part, apply }) => {
    const parsed = usersImportPartSchema.safeParse(await readTransfer(bus, part));
    if (!parsed.success) {
      const conflict = `the users part ${part} is missing or malformed: ${parsed.error.message}`;
      return { imported: [], present: [], skipped: [], conflicts: [conflict], mapped: [] };
    }
    return encodeImportReply(
      await importUsers(store, {
        runId: run_id,
        users: parsed.data.users,
        replaceAdmin: parsed.data.replace_admin,
        apply,
      }),
    );
  });
}

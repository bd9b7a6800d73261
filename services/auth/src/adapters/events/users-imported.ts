import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';

/**
 * `auth.users.imported`: one summary per import run that wrote users, in the run's transaction.
 * Imported users publish no `auth.user.registered`: they are not new.
 */
export function recordUsersImported(em: EntityManager, runId: string, ids: number[]): void {
  recordEvent(em, 'auth.users.imported', {
    run_id: runId,
    imported: ids.length,
    first_id: Math.min(...ids),
    last_id: Math.max(...ids),
  });
}

import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';

/**
 * `operations.history.imported`: one summary per import run that wrote history, in the run's
 * transaction. Imported entries publish no `operations.operation.*`: they are not new commands.
 */
export function recordHistoryImported(em: EntityManager, runId: string, ids: number[]): void {
  recordEvent(em, 'operations.history.imported', {
    run_id: runId,
    imported: ids.length,
    first_id: Math.min(...ids),
    last_id: Math.max(...ids),
  });
}

import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';

/**
 * `machines.machines.imported`: one summary per import run that wrote machines, in the run's
 * transaction. Imported machines publish no `machines.machine.created`: they are not new.
 */
export function recordMachinesImported(em: EntityManager, runId: string, ids: number[]): void {
  recordEvent(em, 'machines.machines.imported', {
    run_id: runId,
    imported: ids.length,
    first_id: Math.min(...ids),
    last_id: Math.max(...ids),
  });
}

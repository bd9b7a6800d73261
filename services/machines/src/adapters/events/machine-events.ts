import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';
import { type MachineEvent, machineView } from '../../domain/machine';

/**
 * Records a machine event in the outbox through the transaction's entity manager, so it commits
 * with the change it describes (or not at all); the outbox relay publishes it afterwards.
 *
 * Subjects: `<BUS_PREFIX>.machines.machine.{created,updated,deleted,status_changed}`.
 */
export function recordMachineEvent(em: EntityManager, event: MachineEvent): void {
  switch (event.kind) {
    case 'created':
      recordEvent(em, 'machines.machine.created', { machine: machineView(event.machine) });
      return;
    case 'updated':
      recordEvent(em, 'machines.machine.updated', { machine: machineView(event.machine) });
      return;
    case 'deleted':
      recordEvent(em, 'machines.machine.deleted', { machine_id: event.machineId, owner_id: event.ownerId });
      return;
    case 'status_changed':
      recordEvent(em, 'machines.machine.status_changed', {
        machine_id: event.machineId,
        old_status: event.oldStatus,
        new_status: event.newStatus,
        cause: event.cause,
        operation_id: event.operationId,
      });
      return;
  }
}

import { createEnvelope } from '@imm/bus';
import type { EventEnvelope } from '@imm/contracts';
import { type MachineEvent, machineView } from '../../domain/machine';

/**
 * The envelope of a machine event, for the outbox row that commits with the change it describes
 * (or not at all); the outbox relay publishes it afterwards.
 *
 * Subjects: `<BUS_PREFIX>.machines.machine.{created,updated,deleted,status_changed}`.
 */
export function machineEnvelope(event: MachineEvent): EventEnvelope {
  switch (event.kind) {
    case 'created':
      return createEnvelope('machines.machine.created', { machine: machineView(event.machine) });
    case 'updated':
      return createEnvelope('machines.machine.updated', { machine: machineView(event.machine) });
    case 'deleted':
      return createEnvelope('machines.machine.deleted', { machine_id: event.machineId, owner_id: event.ownerId });
    case 'status_changed':
      return createEnvelope('machines.machine.status_changed', {
        machine_id: event.machineId,
        old_status: event.oldStatus,
        new_status: event.newStatus,
        cause: event.cause,
        operation_id: event.operationId,
      });
  }
}

import { type Bus, serveRequests } from '@imm/bus';
import type { MachineService } from '../../domain/machine-service';

/**
 * Answers `machines.machine.get` for the operations service: owner, status, endpoint and the last
 * applied operation, read from the database on every request (no cache), so a machine created a
 * moment ago can be operated at once.
 */
export function serveMachineGet(bus: Bus, service: MachineService): { stop(): Promise<void> } {
  return serveRequests(bus, 'machines.machine.get', async ({ machine_id }) => {
    const machine = await service.lookup(machine_id);
    if (!machine) return { found: false };
    return {
      found: true,
      machine: {
        id: machine.id,
        owner_id: machine.ownerId,
        status: machine.status,
        endpoint: machine.endpoint,
        last_operation_id: machine.lastOperationId,
      },
    };
  });
}

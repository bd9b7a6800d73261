import { type Bus, BusRequestError, BusUnavailableError, request } from '@imm/bus';
import { ServiceUnavailableError } from '@imm/errors';
import type { MachineDirectory } from '../../domain/operation-service';

/**
 * Asks the machines service (`machines.machine.get`) for a machine's current owner, status and
 * endpoint; this service never reads the machines schema nor keeps a copy that could be stale.
 */
export function busMachineDirectory(bus: Bus, timeoutMs: number): MachineDirectory {
  return {
    async find(machineId) {
      try {
        const reply = await request(bus, 'machines.machine.get', { machine_id: machineId }, timeoutMs);
        return reply.found ? reply.machine : undefined;
      } catch (error) {
        if (error instanceof BusUnavailableError) {
          bus.logger.warn({ err: error, machineId }, 'machines service unavailable');
          throw new ServiceUnavailableError('down');
        }
        if (error instanceof BusRequestError) {
          bus.logger.error({ err: error, machineId }, 'machines service answered badly');
          throw new ServiceUnavailableError('bad_reply', 'bad_gateway');
        }
        throw error;
      }
    },
  };
}

import { type Bus, serveRequests } from '@imm/bus';
import type { MachineService } from '../../domain/machine-service';

/**
 * Answers `machines.machine.endpoints` for the OPC UA status monitor: every machine whose endpoint
 * has the asked scheme, straight from the database, so created, changed and deleted machines are
 * seen at the monitor's next look.
 */
export function serveMachineEndpoints(bus: Bus, service: MachineService): { stop(): Promise<void> } {
  return serveRequests(bus, 'machines.machine.endpoints', async ({ scheme }) => ({
    machines: await service.endpointsWithScheme(scheme),
  }));
}

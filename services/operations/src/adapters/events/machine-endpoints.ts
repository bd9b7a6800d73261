import { type Bus, request } from '@imm/bus';
import type { WatchedMachine } from '../data/watch-repository';

/** Asks the machines service (`machines.machine.endpoints`) for every machine with an `opc.tcp://` endpoint. */
export async function opcuaMachines(bus: Bus, timeoutMs: number): Promise<WatchedMachine[]> {
  const reply = await request(bus, 'machines.machine.endpoints', { scheme: 'opc.tcp' }, timeoutMs);
  return reply.machines.map((m) => ({ machineId: m.id, endpoint: m.endpoint }));
}

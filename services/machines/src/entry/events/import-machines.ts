import { type Bus, readTransfer, serveRequests } from '@imm/bus';
import { encodeImportReply, machinesImportPartSchema } from '@imm/contracts';
import { importMachines, type MachineImportStore } from '../../domain/import-machines';

/**
 * The machines service's import entry point: answers `machines.import.machines` from the Django
 * import tool with the machines part it left in the transfer store, checked or written in one
 * transaction.
 */
export function serveImportMachines(bus: Bus, store: MachineImportStore): { stop(): Promise<void> } {
  return serveRequests(bus, 'machines.import.machines', async ({ run_id, part, apply }) => {
    const parsed = machinesImportPartSchema.safeParse(await readTransfer(bus, part));
    if (!parsed.success) {
      const conflict = `the machines part ${part} is missing or malformed: ${parsed.error.message}`;
      return { imported: [], present: [], skipped: [], conflicts: [conflict] };
    }
    return encodeImportReply(await importMachines(store, { runId: run_id, machines: parsed.data.machines, apply }));
  });
}

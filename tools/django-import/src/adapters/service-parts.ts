import { type Bus, deleteTransfer, putTransfer, request } from '@imm/bus';
import { decodeImportReply } from '@imm/contracts';
import type { ImportServices } from '../domain/run-import';

/** How long a service may take to check or write its part (a large history takes a while). */
const TIMEOUT_MS = 10 * 60 * 1000;

/**
 * The services over NATS: each part goes to the transfer store once per run, and each service is
 * asked, by request/reply, to check or write the part it finds under that key.
 */
export function busImportServices(bus: Bus): ImportServices {
  const stored = new Map<string, string>();
  async function keyOf(runId: string, kind: string, part: unknown): Promise<string> {
    const key = `django-import.${runId}.${kind}`;
    const json = JSON.stringify(part);
    if (stored.get(key) !== json) {
      await putTransfer(bus, key, part);
      stored.set(key, json);
    }
    return key;
  }
  const payload = async (runId: string, kind: string, part: unknown, apply: boolean) => ({
    run_id: runId,
    part: await keyOf(runId, kind, part),
    apply,
  });

  return {
    users: async (runId, part, apply) =>
      decodeImportReply(
        await request(bus, 'auth.import.users', await payload(runId, 'users', part, apply), TIMEOUT_MS),
      ),
    machines: async (runId, part, apply) =>
      decodeImportReply(
        await request(bus, 'machines.import.machines', await payload(runId, 'machines', part, apply), TIMEOUT_MS),
      ),
    history: async (runId, part, apply) =>
      decodeImportReply(
        await request(bus, 'operations.import.history', await payload(runId, 'history', part, apply), TIMEOUT_MS),
      ),
    async finish(runId) {
      for (const key of stored.keys()) if (key.includes(runId)) await deleteTransfer(bus, key);
    },
  };
}

import { nanos, type ObjectStore } from 'nats';
import type { Bus } from './connection';

/**
 * Payloads too large for one NATS message (a Django import's history), handed from one process to
 * another through a JetStream object store: the sender puts a JSON document under a key and sends
 * the key in a request; the receiver, on any host and in any replica, reads it. Entries expire on
 * their own after a day, so a sender that crashed leaves nothing behind for long.
 */
const TTL_MS = 24 * 60 * 60 * 1000;

/** `<BUS_PREFIX>_transfers`; its stream is `OBJ_<BUS_PREFIX>_transfers`. */
export function transferBucketName(prefix: string): string {
  return `${prefix}_transfers`;
}

function openTransfers(bus: Bus): Promise<ObjectStore> {
  return bus.js.views.os(transferBucketName(bus.prefix), { ttl: nanos(TTL_MS) });
}

export async function putTransfer(bus: Bus, key: string, document: unknown): Promise<void> {
  const store = await openTransfers(bus);
  await store.putBlob({ name: key }, new TextEncoder().encode(JSON.stringify(document)));
}

/** The document stored under `key`, or undefined when there is none (expired, never put). */
export async function readTransfer(bus: Bus, key: string): Promise<unknown> {
  const store = await openTransfers(bus);
  const data = await store.getBlob(key);
  return data ? (JSON.parse(new TextDecoder().decode(data)) as unknown) : undefined;
}

/** Forgets `key`; never throws (an entry left behind expires by itself). */
export async function deleteTransfer(bus: Bus, key: string): Promise<void> {
  try {
    const store = await openTransfers(bus);
    await store.delete(key);
  } catch {
    // expires with the bucket's TTL
  }
}

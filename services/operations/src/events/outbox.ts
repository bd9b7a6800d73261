import { type Bus, startOutboxRelay } from '@imm/bus';
import type { Database } from '@imm/db';
import type { Logger } from '@imm/logging';

export interface Outbox {
  /** Publish what was just recorded now rather than at the relay's next poll; calls coalesce. */
  nudge(): void;
  stop(): Promise<void>;
}

/**
 * The relay that publishes this process's outbox rows (it runs in the API and in the worker; rows
 * are claimed with SKIP LOCKED, so both can). What fails to publish stays for the relay's retries,
 * so events reach NATS after an outage of any length.
 */
export function startOutbox(orm: Database, bus: Bus, logger: Logger): Outbox {
  const relay = startOutboxRelay({ orm, bus, logger });
  let inflight: Promise<unknown> | undefined;
  let again = false;
  function nudge(): void {
    if (inflight) {
      again = true;
      return;
    }
    inflight = relay.flush().finally(() => {
      inflight = undefined;
      if (again) {
        again = false;
        nudge();
      }
    });
  }
  return { nudge, stop: () => relay.stop() };
}

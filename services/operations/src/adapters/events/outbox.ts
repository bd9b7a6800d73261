import { type Bus, startOutboxRelay } from '@imm/bus';
import type { Database } from '@imm/db';
import type { Logger } from '@imm/logging';

export interface Outbox {
  /** Publish what was just recorded now rather than at the relay's next poll; calls coalesce. */
  nudge(): void;
  stop(): Promise<void>;
}

/**
 * The relay that publishes this service's outbox rows. It runs in the API and in the worker; the
 * relay keeps the rows' order across both (see @imm/bus), so "requested" always goes out before
 * "completed". What fails to publish stays for the relay's retries.
 */
export function startOutbox(orm: Database, bus: Bus, logger: Logger): Outbox {
  const relay = startOutboxRelay({ orm, bus, logger });
  return { nudge: relay.wake, stop: () => relay.stop() };
}

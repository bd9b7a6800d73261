import { Counter, Gauge, Histogram } from '@imm/telemetry';

/** What the bus does that an operator watches: redeliveries, dead letters, how late the outbox is. */
export const busMetrics = {
  redeliveries: new Counter({
    name: 'imm_bus_redeliveries_total',
    help: 'Events delivered again to a consumer (its handler failed, timed out or crashed before the ack)',
    labelNames: ['consumer'],
  }),
  deadLetters: new Counter({
    name: 'imm_bus_dead_letters_total',
    help: 'Events a consumer gave up on and copied to its dead-letter subject',
    labelNames: ['consumer'],
  }),
  relayLag: new Histogram({
    name: 'imm_outbox_relay_lag_seconds',
    help: 'From an event being recorded in the outbox to JetStream acknowledging its publish',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
};

/** Each running relay's count of unpublished rows, asked for at scrape time. */
const backlogSources = new Map<string, () => Promise<number>>();

new Gauge({
  name: 'imm_outbox_backlog',
  help: 'Events recorded in the outbox and not yet published, per service schema',
  labelNames: ['schema'],
  async collect() {
    this.reset();
    for (const [schema, count] of backlogSources) {
      // A scrape while the database is away reports no value rather than failing the whole scrape.
      const value = await count().catch(() => undefined);
      if (value !== undefined) this.labels(schema).set(value);
    }
  },
});

/** Registers a relay's backlog for the gauge; returns the unregistering function. */
export function reportOutboxBacklog(schema: string, count: () => Promise<number>): () => void {
  backlogSources.set(schema, count);
  return () => backlogSources.delete(schema);
}

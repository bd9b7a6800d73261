import client from 'prom-client';

export { Counter, Gauge, Histogram } from 'prom-client';

/** One registry per process: what `/metrics` serves. */
export const metricsRegistry = client.register;

let collecting = false;

/**
 * The process's own metrics: event-loop delay, memory, CPU, handles, GC (prom-client's defaults).
 * Idempotent, so every HTTP app of a process may ask for them.
 */
export function collectProcessMetrics(): void {
  if (collecting) return;
  collecting = true;
  client.collectDefaultMetrics({ register: metricsRegistry });
}

/** The Prometheus text of every metric of this process. */
export function renderMetrics(): Promise<string> {
  return metricsRegistry.metrics();
}

export const metricsContentType = metricsRegistry.contentType;

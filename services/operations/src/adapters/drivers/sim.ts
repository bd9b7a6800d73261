import { abortedError, type DriverFactory, NotSentError } from './driver';

function rate(value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : fallback;
}

/**
 * The built-in simulated machine: `sim://press-7?latency_ms=200&fail_rate=0.1&error_rate=0`.
 * `latency_ms` is how long it takes to answer, `fail_rate` how often it answers "failed"
 * (REMOTEFAILED), `error_rate` how often it is unreachable (nothing sent, so retried). The
 * first two default to SIM_LATENCY_MS and SIM_FAIL_RATE, `error_rate` to 0.
 */
export const simDriver: DriverFactory = (endpoint, context) => {
  const query = endpoint.searchParams;
  const latencyRaw = query.get('latency_ms');
  const latency = latencyRaw !== null && Number(latencyRaw) >= 0 ? Number(latencyRaw) : context.sim.latencyMs;
  const failRate = rate(query.get('fail_rate'), context.sim.failRate);
  const errorRate = rate(query.get('error_rate'), 0);
  return {
    async execute(_command, signal) {
      if (signal.aborted) throw abortedError(signal, false);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(abortedError(signal));
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, latency);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (Math.random() < errorRate) throw new NotSentError('simulated machine unreachable');
      return Math.random() < failRate ? 'failed' : 'success';
    },
  };
};

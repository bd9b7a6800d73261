/** Latency summary in milliseconds (nearest rank, as wrk and the sequential scenario report). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((total, value) => total + value, 0);
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(values.at(-1) ?? Number.NaN),
    mean: round(values.length > 0 ? sum / values.length : Number.NaN),
  };
}

/** Two decimals: enough for milliseconds and requests per second, short in JSON. */
export const round = (value: number): number => Math.round(value * 100) / 100;

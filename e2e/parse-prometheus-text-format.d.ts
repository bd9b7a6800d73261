declare module 'parse-prometheus-text-format' {
  /** One metric family as prom2json shows it; values are strings. */
  export interface MetricFamily {
    name: string;
    help: string;
    type: string;
    metrics: {
      labels?: Record<string, string>;
      value?: string;
      count?: string;
      sum?: string;
      buckets?: Record<string, string>;
    }[];
  }
  /** Throws on a line that is not Prometheus text. */
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { collectProcessMetrics, metricsRegistry } from '@imm/telemetry';
import { describe, expect, it } from 'vitest';
// The modules that define the system's metrics, so the registry holds every one of them.
import '@imm/web';
import '@imm/bus';
import '../../services/auth/src/adapters/metrics';
import '../../services/operations/src/adapters/metrics';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('the Grafana dashboard (deploy/grafana/imm-control.json)', () => {
  const dashboard = JSON.parse(readFileSync(`${root}/deploy/grafana/imm-control.json`, 'utf8')) as {
    panels: Panel[];
  };
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('queries only metrics the processes expose', async () => {
    collectProcessMetrics();
    const exposed = new Set(
      (await metricsRegistry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name],
      ),
    );
    const used = queries.flatMap(({ panel, expr }) =>
      [...expr.matchAll(/\b((?:http|imm|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => ({ panel, metric: m[1] })),
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter(({ metric }) => !exposed.has(metric as string))).toEqual([]);
  });

  it('has a panel for each thing an operator watches', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'http_request_duration_seconds',
      'imm_commands_total',
      'imm_queue_jobs',
      'imm_queue_job_wait_seconds',
      'imm_outbox_backlog',
      'imm_outbox_relay_lag_seconds',
      'imm_bus_redeliveries_total',
      'imm_bus_dead_letters_total',
      'imm_auth_password_hashing_seconds',
      'imm_auth_password_queue_wait_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(all).toContain(metric);
    }
  });
});

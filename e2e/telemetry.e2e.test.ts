import { randomUUID } from 'node:crypto';
import {
  type ExportedSpan,
  type OtlpReceiver,
  type RunningSystem,
  startOtlpReceiver,
  startSystem,
  waitFor,
} from '@imm/testing';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import { createMachine, sendCommand, waitForFinal, waitForStatus } from './machine-control';

/**
 * What an operator sees: every START is one trace across the processes, exported over OTLP/HTTP
 * (JSON) to a collector — here a receiver of the test's own; every process serves Prometheus
 * metrics on its own port; log lines inside a request name its trace.
 */

// OTLP span kinds.
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

let receiver: OtlpReceiver;
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  system = await startSystem({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    SIM_LATENCY_MS: '20',
  });
  api = apiClient(system.url);
});
afterAll(async () => {
  await system?.stop();
  await receiver?.close();
});

/** A START through the gateway, finished and applied to the machine. */
async function startOneMachine(requestId: string) {
  const user = await api.newUser('traced');
  const machineId = await createMachine(api, user.access);
  const accepted = await sendCommand(api, user.access, machineId, 'START', { 'X-Request-Id': requestId });
  expect(accepted.status).toBe(202);
  expect((await waitForFinal(api, user.access, accepted.headers.get('location') as string)).result).toBe(1);
  await waitForStatus(api, user.access, machineId, 4);
  return machineId;
}

describe('tracing', () => {
  it('makes one START one trace: gateway → operations API → machines reply → queue → worker → driver → outbox → machines consumer', async () => {
    const requestId = `trace-${randomUUID()}`;
    await startOneMachine(requestId);

    // The machines consumer's span is the last of the chain; its trace is the command's.
    const consumed = await waitFor(
      () =>
        receiver.spans.find(
          (s) => s.service === 'machines' && s.name === 'process operations.operation.completed' && s.kind === CONSUMER,
        ),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const traceId = consumed.traceId;
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const byId = () => new Map(inTrace().map((s) => [s.spanId, s]));
    /** The span and its ancestors, root first. */
    const lineage = (span: ExportedSpan): ExportedSpan[] => {
      const spans = byId();
      const chain = [span];
      for (let s = span; s.parentSpanId; ) {
        const parent = spans.get(s.parentSpanId);
        if (!parent) break;
        chain.unshift(parent);
        s = parent;
      }
      return chain;
    };
    const find = (service: string, name: string | RegExp, kind: number) =>
      inTrace().find(
        (s) =>
          s.service === service && s.kind === kind && (typeof name === 'string' ? s.name === name : name.test(s.name)),
      );

    // Spans arrive per process, in batches: wait until the whole chain is there, unbroken.
    const chain = await waitFor(
      () => {
        const path = lineage(consumed);
        return path[0]?.parentSpanId === undefined && path[0]?.service === 'gateway' ? path : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // Each process appears in the chain in the order the command travels.
    const services = chain.map((s) => s.service).filter((s, i, all) => s !== all[i - 1]);
    // The completion is published by whichever relay of the operations outbox (worker or API) gets
    // to it first; either way it hangs under the worker's span.
    expect(services.slice(0, 3)).toEqual(['gateway', 'operations', 'operations-worker']);
    expect(services.at(-1)).toBe('machines');
    expect(services.length).toBeLessThanOrEqual(5);
    expect(chain[0]).toMatchObject({ kind: SERVER, name: 'POST /api/machines/{id}/operation/' });
    const names = chain.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'send operations',
        'process operations',
        'publish operations.operation.completed',
        'process operations.operation.completed',
      ]),
    );
    expect(names.indexOf('send operations')).toBeLessThan(names.indexOf('process operations'));
    expect(names.indexOf('process operations')).toBeLessThan(names.indexOf('publish operations.operation.completed'));

    // The machines request/reply and the driver call hang off the same trace, under the right parents.
    const reply = await waitFor(() => find('machines', 'machines.machine.get reply', SERVER), { timeoutMs: 10_000 });
    const replyPath = lineage(reply).map((s) => `${s.service}:${s.name}`);
    expect(replyPath[0]).toBe(`gateway:${chain[0]?.name}`);
    expect(replyPath.at(-2)).toBe('operations:machines.machine.get request');
    const driver = await waitFor(() => find('operations-worker', /^driver sim START$/, CLIENT), { timeoutMs: 10_000 });
    expect(lineage(driver).map((s) => s.name)).toContain('process operations');
    // The proxy's request carried the context over HTTP: the API's server span is its child.
    const upstream = await waitFor(() => find('operations', /^POST/, SERVER), { timeoutMs: 10_000 });
    const upstreamParent = byId().get(upstream.parentSpanId ?? '');
    expect(upstreamParent).toMatchObject({ service: 'gateway', kind: CLIENT });
    expect(find('operations', /^pg\.query/, CLIENT)).toBeDefined();
    expect(chain.find((s) => s.name === 'publish operations.operation.completed')?.kind).toBe(PRODUCER);

    // Every log line of this request, in every process it touched, names the trace.
    const lines = system
      .output()
      .split('\n')
      .filter((line) => line.includes(requestId))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as { service: string; trace_id?: string });
    expect([...new Set(lines.map((l) => l.service))]).toEqual(
      expect.arrayContaining(['gateway', 'operations', 'operations-worker']),
    );
    expect(lines.filter((l) => l.trace_id !== traceId)).toEqual([]);
  });
});

describe('metrics', () => {
  const processes = {
    gateway: 'GATEWAY_PORT',
    auth: 'AUTH_PORT',
    machines: 'MACHINES_PORT',
    operations: 'OPERATIONS_PORT',
    worker: 'WORKER_PORT',
  } as const;
  type ProcessName = keyof typeof processes;
  interface Metrics {
    /** The families as typed (histograms grouped). */
    families: MetricFamily[];
    /** The same text read untyped, so each histogram's `_count` series keeps its labels. */
    series: MetricFamily[];
  }
  type Scrape = Record<ProcessName, Metrics>;

  async function scrape(name: ProcessName): Promise<Metrics> {
    const response = await fetch(`http://127.0.0.1:${system.env[processes[name]]}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    // Throws on any line that is not Prometheus text.
    const families = parsePrometheusTextFormat(text);
    const series = parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, ''));
    return { families, series };
  }
  async function scrapeAll(): Promise<Scrape> {
    const names = Object.keys(processes) as ProcessName[];
    const scrapes = await Promise.all(names.map(scrape));
    return Object.fromEntries(names.map((name, i) => [name, scrapes[i]])) as Scrape;
  }
  function family(metrics: Metrics, name: string): MetricFamily {
    const found = metrics.families.find((f) => f.name === name);
    if (!found) throw new Error(`no metric ${name}`);
    return found;
  }
  /** A counter's or gauge's value, or a histogram's count, for the series with these labels (0 when absent). */
  function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): number {
    const histogram = family(metrics, name).type === 'HISTOGRAM';
    const seriesName = histogram ? `${name}_count` : name;
    // Untyped, each run of lines of one name is a family of its own: gather them.
    const sample = metrics.series
      .filter((f) => f.name === seriesName)
      .flatMap((f) => f.metrics)
      .find((m) => Object.entries(labels).every(([key, v]) => m.labels?.[key] === v));
    return Number(sample?.value ?? 0);
  }

  it('serves Prometheus text on every process’s own port, and its counters move with the requests made', async () => {
    const before = await scrapeAll();
    await startOneMachine(`metrics-${randomUUID()}`);
    const started = { command: 'START' };
    const after = await waitFor(
      async () => {
        const now = await scrapeAll();
        const finished = (s: Scrape) => value(s.worker, 'imm_commands_total', { ...started, result: 'SUCCESS' });
        // The API and the worker share the operations outbox: either relay may publish the completion.
        const relayed = (s: Scrape) =>
          value(s.worker, 'imm_outbox_relay_lag_seconds') + value(s.operations, 'imm_outbox_relay_lag_seconds');
        return finished(now) > finished(before) && relayed(now) > relayed(before) ? now : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const moved = (name: ProcessName, metric: string, labels: Record<string, string> = {}) =>
      value(after[name], metric, labels) - value(before[name], metric, labels);

    // Request durations by route pattern and status, in the gateway and in the service behind it.
    const operation = { method: 'POST', status: '202' };
    expect(
      moved('gateway', 'http_request_duration_seconds', { ...operation, route: '/api/machines/{id}/operation/' }),
    ).toBe(1);
    expect(
      moved('operations', 'http_request_duration_seconds', { ...operation, route: '/api/machines/:id/operation' }),
    ).toBe(1);
    expect(
      moved('machines', 'http_request_duration_seconds', { method: 'POST', route: '/api/machines', status: '201' }),
    ).toBe(1);
    // Commands by command and result: accepted in the API, finished in the worker.
    expect(moved('operations', 'imm_commands_total', { ...started, result: 'PENDING' })).toBe(1);
    expect(moved('worker', 'imm_commands_total', { ...started, result: 'SUCCESS' })).toBe(1);
    // The queue: its depth by state, and how long the job waited for a worker.
    expect(family(after.operations, 'imm_queue_jobs').metrics.map((m) => m.labels?.state)).toContain('waiting');
    expect(moved('worker', 'imm_queue_job_wait_seconds')).toBe(1);
    // The outbox: its backlog per schema and the relay's lag; the consumers' redeliveries and dead letters.
    expect(value(after.machines, 'imm_outbox_backlog', { schema: 'machines' })).toBeGreaterThanOrEqual(0);
    expect(family(after.machines, 'imm_outbox_backlog').metrics.map((m) => m.labels?.schema)).toEqual(['machines']);
    expect(moved('machines', 'imm_outbox_relay_lag_seconds')).toBeGreaterThanOrEqual(1);
    expect(family(after.machines, 'imm_bus_redeliveries_total').type).toBe('COUNTER');
    expect(family(after.machines, 'imm_bus_dead_letters_total').type).toBe('COUNTER');
    // Password hashing (the sign-up), and every process's event-loop delay and memory.
    expect(moved('auth', 'imm_auth_password_hashing_seconds', { operation: 'hash' })).toBe(1);
    expect(moved('auth', 'imm_auth_password_queue_wait_seconds')).toBeGreaterThanOrEqual(1);
    for (const name of Object.keys(processes) as ProcessName[]) {
      expect(value(after[name], 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
      expect(value(after[name], 'process_resident_memory_bytes')).toBeGreaterThan(0);
    }
  });

  it('keeps /metrics out of the public API, and out of reach of requests that came through a proxy', async () => {
    const underApi = await api.call('GET', '/api/metrics');
    expect(underApi.status).toBe(404);
    expect(underApi.body).toMatchObject({ status: 0, error_code: 5 });
    const proxied = await fetch(`${system.url}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(proxied.status).toBe(404);
    expect(await proxied.json()).toMatchObject({ status: 0, error_code: 5 });
  });
});

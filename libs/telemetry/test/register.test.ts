import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { instrumentationsChosen, serviceNameOf } from '../src/tracing-sdk';
import { tracingRequested } from '../src/tracing';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = 'libs/telemetry/test/fixtures/report-tracing.ts';

/** Starts a process the way every process of the system starts, and reads what it reports. */
async function reportUnderPreload(env: Record<string, string>) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--import', '@imm/telemetry/register', fixture],
    { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } },
  );
  return JSON.parse(stdout) as { sdkLoaded: boolean; instrumentationLoaded: boolean; provider: string };
}

describe('the telemetry preload', () => {
  it('loads neither the SDK nor any instrumentation when no OTLP endpoint is set', async () => {
    expect(await reportUnderPreload({})).toEqual({
      sdkLoaded: false,
      instrumentationLoaded: false,
      provider: 'NoopTracerProvider',
    });
  });

  it('starts the SDK and its instrumentations when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    // Nothing listens there; the process exits before its first export anyway.
    const report = await reportUnderPreload({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(report).toEqual({ sdkLoaded: true, instrumentationLoaded: true, provider: 'TracerProvider' });
  });

  it('honours the standard ways of switching tracing off', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested(endpoint)).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });

  it('names each process as its logs do, unless OTEL_SERVICE_NAME says otherwise', () => {
    expect(serviceNameOf('/app/gateway/src/main.ts')).toBe('gateway');
    expect(serviceNameOf('services/auth/src/main.ts')).toBe('auth');
    expect(serviceNameOf('/app/services/operations/src/worker.ts')).toBe('operations-worker');
    expect(serviceNameOf('services/operations/dist/worker.js')).toBe('operations-worker');
    expect(serviceNameOf('/app/gateway/dist/main.js')).toBe('gateway');
  });
});

describe('the instrumentations chosen', () => {
  const available = { http: () => 'http', express: () => 'express', pg: () => 'pg', ioredis: () => 'ioredis' };

  it('are all of them unless the OTEL_NODE_* variables say otherwise', () => {
    expect(instrumentationsChosen(available, {})).toEqual(['http', 'express', 'pg', 'ioredis']);
    expect(instrumentationsChosen(available, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: '' })).toHaveLength(4);
  });

  it('keep only the enabled ones, then drop the disabled ones', () => {
    expect(instrumentationsChosen(available, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, pg' })).toEqual([
      'http',
      'pg',
    ]);
    expect(instrumentationsChosen(available, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express,ioredis' })).toEqual([
      'http',
      'pg',
    ]);
    expect(
      instrumentationsChosen(available, {
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express',
      }),
    ).toEqual(['http']);
    expect(instrumentationsChosen(available, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none' })).toEqual([]);
  });
});

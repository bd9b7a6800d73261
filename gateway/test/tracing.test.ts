import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dropRedisKeys, freePort, type OtlpReceiver, startOtlpReceiver, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandIn, startUpstreams, uniquePrefix, upstreamEnv } from './support';

/**
 * The gateway traced as it runs (the telemetry preload, an OTLP receiver of the test's own): the
 * http instrumentation wraps only its server side, so the proxied request's context is the
 * gateway's own doing.
 */

// OTLP span kinds.
const SERVER = 2;
const CLIENT = 3;

const root = fileURLToPath(new URL('../..', import.meta.url));
let receiver: OtlpReceiver;
let auth: StandIn;
let machines: StandIn;
let operations: StandIn;
let gateway: ChildProcess | undefined;
let url: string;
const prefix = uniquePrefix('tracing');
let output = '';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  ({ auth, machines, operations } = await startUpstreams());
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  gateway = spawn(process.execPath, ['--import', 'tsx', '--import', '@imm/telemetry/register', 'gateway/src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      MODE: 'DEV',
      LOG_LEVEL: 'info',
      PORT: String(port),
      REDIS_PREFIX: prefix,
      ...upstreamEnv(auth, machines, operations),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  gateway.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await waitFor(
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.ok || undefined,
        () => undefined,
      ),
    { timeoutMs: 30_000, intervalMs: 100 },
  );
});

afterAll(async () => {
  if (gateway?.exitCode === null) {
    const exited = new Promise((resolve) => gateway?.once('exit', resolve));
    gateway.kill('SIGTERM');
    await exited;
  }
  await Promise.all([auth, machines, operations].map((s) => s?.close()));
  await receiver?.close();
  await dropRedisKeys('redis://127.0.0.1:6379', prefix);
});

describe('the proxied request', () => {
  it('carries the incoming trace: traceparent of the same trace, parented on the gateway’s one client span', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const response = await fetch(`${url}/api/sign-in/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: '{}',
    });
    expect(response.status, output).toBe(200);

    const received = auth.seen.at(-1)?.headers.traceparent as string;
    const [version, upstreamTraceId, upstreamParentId, flags] = received.split('-');
    expect({ version, upstreamTraceId, flags }).toEqual({ version: '00', upstreamTraceId: traceId, flags: '01' });
    expect(upstreamParentId).not.toBe(callerSpanId);

    // The server span (under the caller's), then one client span under it: the service's parent.
    const spans = await waitFor(
      () => {
        const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
        return inTrace.some((s) => s.kind === CLIENT) && inTrace.some((s) => s.kind === SERVER) ? inTrace : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const server = spans.find((s) => s.kind === SERVER);
    expect(server).toMatchObject({ service: 'gateway', name: 'POST /api/sign-in/', parentSpanId: callerSpanId });
    // HTTP client spans are named by their method (the rate limit's Redis calls are client spans too).
    const clients = spans.filter((s) => s.kind === CLIENT && /^[A-Z]+$/.test(s.name));
    expect(clients).toEqual([
      {
        service: 'gateway',
        traceId,
        spanId: upstreamParentId,
        parentSpanId: server?.spanId,
        name: 'POST',
        kind: CLIENT,
      },
    ]);
  });

  it('starts no trace of its own for a health probe', async () => {
    const before = receiver.spans.length;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.spans.slice(before).filter((s) => s.service === 'gateway' && s.kind === SERVER)).toEqual([]);
  });
});

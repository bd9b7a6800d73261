import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dropRedisKeys, freePort, type OtlpReceiver, startOtlpReceiver, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer } from '@imm/web';
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
/** The auth service here: answers, or with `x-test-reset` resets the (pooled) connection instead. */
let authService: Server;
const authSeen: IncomingHttpHeaders[] = [];
let gateway: ChildProcess | undefined;
let url: string;
const prefix = uniquePrefix('tracing');
let output = '';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  ({ auth, machines, operations } = await startUpstreams());
  authService = createServer((req, res) => {
    authSeen.push(req.headers);
    if (req.headers['x-test-reset']) req.socket.destroy();
    else req.resume().on('end', () => res.setHeader('content-type', 'application/json').end('{"status":1}'));
  });
  await new Promise<void>((resolve) => authService.listen(0, '127.0.0.1', resolve));
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
      AUTH_URL: `http://127.0.0.1:${(authService.address() as AddressInfo).port}`,
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
  if (authService) await closeServer(authService);
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

    const received = authSeen.at(-1)?.traceparent as string;
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

  it('logs a failed call inside its own request’s trace, not that of the request that opened the socket', async () => {
    const traced = (traceId: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/api/sign-in/`, {
        method: 'POST',
        headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, ...headers },
      });
    // The first request opens the pooled connection; the second reuses it, and the service resets it.
    expect((await traced(randomBytes(16).toString('hex'))).status).toBe(200);
    const traceId = randomBytes(16).toString('hex');
    expect((await traced(traceId, { 'x-test-reset': '1' })).status).toBe(503);
    // Log lines reach the pipe on their own schedule, not the response's.
    const failed = await waitFor(
      () => {
        const lines = output
          .split('\n')
          .filter((line) => line.includes('upstream auth failed'))
          .map((line) => JSON.parse(line) as { trace_id?: string; span_id?: string });
        return lines.length > 0 ? lines : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(failed.map((line) => line.trace_id)).toEqual([traceId]);
    const server = await waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.kind === SERVER), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(failed[0]?.span_id).toBe(server.spanId);
  });

  it('makes no span of a health probe', async () => {
    const traceId = randomBytes(16).toString('hex');
    const probe = await fetch(`${url}/healthz`, {
      headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    });
    expect(probe.status).toBe(200);
    // A traced request made after it: once its spans are in, the probe's would be too.
    const after = randomBytes(16).toString('hex');
    await fetch(`${url}/api/sign-in/`, {
      method: 'POST',
      headers: { traceparent: `00-${after}-${randomBytes(8).toString('hex')}-01` },
    });
    await waitFor(() => receiver.spans.some((s) => s.traceId === after && s.kind === SERVER) || undefined, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
  });
});

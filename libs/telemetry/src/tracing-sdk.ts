import { register } from 'node:module';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Instrumentation } from '@opentelemetry/instrumentation';

/** Probes and scrapes would be most of the spans and tell nothing. */
const untraced = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * `services/operations/src/worker.ts` → `operations-worker`, `gateway/src/main.ts` (or its build,
 * `gateway/dist/main.js`) → `gateway`:
 * the name the process's logs carry, when OTEL_SERVICE_NAME does not give one.
 */
export function serviceNameOf(entry: string | undefined): string {
  if (!entry) return 'imm-control';
  const file = path.basename(entry).replace(/\.[cm]?[jt]s$/, '');
  const dir = path.dirname(entry);
  const inPackage = ['src', 'dist'].includes(path.basename(dir));
  const pkg = path.basename(inPackage ? path.dirname(dir) : dir);
  return file === 'main' || file === 'index' ? pkg : `${pkg}-${file}`;
}

/**
 * The instrumentations to load, as `OTEL_NODE_ENABLED_INSTRUMENTATIONS` and
 * `OTEL_NODE_DISABLED_INSTRUMENTATIONS` say (comma-separated names: http, express, pg, ioredis;
 * the variables of OpenTelemetry's Node auto-instrumentation, with its meaning: enabled first,
 * then disabled removed). Unset, all of them.
 */
export function instrumentationsChosen<T>(
  available: Record<string, () => T>,
  env: NodeJS.ProcessEnv = process.env,
): T[] {
  const names = (value: string | undefined) =>
    value === undefined || value.trim() === '' ? undefined : value.split(',').map((name) => name.trim());
  const enabled = names(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS) ?? Object.keys(available);
  const disabled = new Set(names(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS) ?? []);
  return Object.entries(available)
    .filter(([name]) => enabled.includes(name) && !disabled.has(name))
    .map(([, make]) => make());
}

/**
 * Starts the OpenTelemetry SDK: spans of http, express, pg and ioredis plus our own, exported
 * over OTLP as the standard OTEL_* variables say (endpoint, protocol, headers, sampler, batch
 * delays). Only the modules instrumented are wrapped by the ESM hook, so the rest load as usual.
 */
export async function startTracing(): Promise<void> {
  // Imported here, not at the top: the production build bundles this file into the preload, and a
  // static import there would load the SDK even with tracing off.
  const [{ createAddHookMessageChannel }, { NodeSDK }, http, express, pg, ioredis] = await Promise.all([
    import('import-in-the-middle'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
  ]);
  const { HttpInstrumentation } = http;
  const { ExpressInstrumentation, ExpressLayerType } = express;
  const { PgInstrumentation } = pg;
  const { IORedisInstrumentation } = ioredis;
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: serviceNameOf(process.argv[1]) }),
    // Traces only: metrics are Prometheus' (prom-client), logs go to stdout.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: instrumentationsChosen<Instrumentation>({
      // Server side only. The one outgoing http.request of the system is the gateway's proxied call
      // (fetch is undici, which this does not wrap; the exporter's own requests are never traced),
      // and wrapping it (options parsed, the request's emitters bound) cost the gateway more than
      // the span was worth: the gateway makes that span and carries the context itself
      // (gateway/src/upstream-span.ts).
      http: () =>
        new HttpInstrumentation({
          ignoreIncomingRequestHook: (req: IncomingMessage) => untraced.has((req.url ?? '').split('?')[0] ?? ''),
          disableOutgoingRequestInstrumentation: true,
        }),
      // A span for the route's handler, none for each middleware (a dozen a request, little to see):
      // tracing is meant to stay cheap enough to leave on.
      express: () =>
        new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
      // Background loops (the outbox relay's poll, BullMQ's blocking reads) would each make a
      // trace of their own every second: only queries inside a trace are spans, and no span for
      // taking a pooled connection.
      pg: () => new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      ioredis: () => new IORedisInstrumentation({ requireParentSpan: true }),
    }),
  });
  sdk.start();
  await waitForAllMessagesAcknowledged();
}

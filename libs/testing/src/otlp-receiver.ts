import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as exported: the process it came from and its place in its trace. */
export interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

export interface OtlpReceiver {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should be. */
  url: string;
  /** Every span received so far. */
  spans: ExportedSpan[];
  close(): Promise<void>;
}

/**
 * A minimal OTLP/HTTP collector of the test's own (JSON: `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`):
 * keeps every span posted to /v1/traces. With `keepSpans: false` it only accepts them, a cheap sink
 * for measuring what tracing costs the system (any protocol of OTLP/HTTP).
 */
export async function startOtlpReceiver(options: { keepSpans?: boolean } = {}): Promise<OtlpReceiver> {
  const keepSpans = options.keepSpans ?? true;
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (keepSpans && req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service = resourceSpans.resource?.attributes?.find((a: { key: string }) => a.key === 'service.name')
            ?.value?.stringValue;
          for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
            for (const span of scopeSpans.spans ?? []) {
              spans.push({
                service,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                name: span.name,
                kind: span.kind,
              });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

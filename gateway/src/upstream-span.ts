import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { injectTraceContext, type OpenSpan, SpanKind, SpanStatusCode, startSpan } from '@imm/telemetry';

/**
 * The gateway's span of one proxied call, and the trace context it hands the service. The http
 * instrumentation's client side is off in every process (libs/telemetry/src/tracing-sdk.ts): it
 * wrapped each proxied request and bound its emitters, more than half of what tracing cost the
 * gateway (bench/README.md, finding 16), for what these few lines give.
 */
export interface UpstreamSpan {
  /** Writes `traceparent` (and `tracestate`) of this span into the proxied request. */
  inject(proxyReq: ClientRequest): void;
  /** The service answered: its status; the span ends when the answer has been read. */
  answered(proxyRes: IncomingMessage): void;
  failed(error: Error & { code?: string }): void;
}

const setHeader = (carrier: ClientRequest, key: string, value: string) => {
  carrier.setHeader(key, value);
};

/**
 * Starts the span of the call `req` makes to `target` (named and described as OpenTelemetry's HTTP
 * client spans are); it ends however the exchange ends, at the latest when `res` closes.
 * Undefined with tracing off or outside a trace.
 */
export function startUpstreamSpan(req: IncomingMessage, res: ServerResponse, target: URL): UpstreamSpan | undefined {
  const method = req.method ?? 'GET';
  const open: OpenSpan | undefined = startSpan(method, {
    kind: SpanKind.CLIENT,
    requireParent: true,
    attributes: {
      'http.request.method': method,
      'server.address': target.hostname,
      'server.port': Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
      'url.full': `${target.origin}${req.url ?? ''}`,
    },
  });
  if (!open) return undefined;
  const { span } = open;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.end();
  };
  res.once('close', end);
  return {
    inject: (proxyReq) => injectTraceContext(proxyReq, { set: setHeader }, open.context),
    answered(proxyRes) {
      const status = proxyRes.statusCode ?? 0;
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      proxyRes.once('end', end);
    },
    failed(error) {
      span.recordException(error);
      span.setAttribute('error.type', error.code ?? error.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      end();
    },
  };
}

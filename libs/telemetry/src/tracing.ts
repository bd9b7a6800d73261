import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
  type ProxyTracerProvider,
} from '@opentelemetry/api';

export { SpanKind, SpanStatusCode } from '@opentelemetry/api';
export type { Context, TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** W3C trace context as it travels in a message or a job: `traceparent` and maybe `tracestate`. */
export type TraceCarrier = Record<string, string>;

/**
 * Tracing is on when an OTLP endpoint is configured (and not switched off the standard ways).
 * Every helper here checks this first, so with tracing off they cost one branch and allocate nothing.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return !(env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .includes('none');
}

export const tracingEnabled = tracingRequested();

const tracer = trace.getTracer('imm-control');

/** The active trace context, to store with work that continues elsewhere (an outbox row, a job). */
export function currentTraceContext(): TraceCarrier | undefined {
  if (!tracingEnabled) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/** Writes the active trace context (or `of`) into a carrier (message headers) through `setter`. */
export function injectTraceContext<C>(carrier: C, setter: TextMapSetter<C>, of?: Context): void {
  if (tracingEnabled) propagation.inject(of ?? context.active(), carrier, setter);
}

/** The context a carrier describes, or undefined when it carries none. */
export function extractTraceContext<C>(carrier: C | undefined, getter?: TextMapGetter<C>): Context | undefined {
  if (!tracingEnabled || carrier === undefined) return undefined;
  const extracted = getter
    ? propagation.extract(ROOT_CONTEXT, carrier, getter)
    : propagation.extract(ROOT_CONTEXT, carrier);
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** Where the span belongs: a carried context (a message's or a job's), else the active one. */
  parent?: Context | TraceCarrier;
  attributes?: Record<string, string | number | boolean>;
  /** No span outside a trace (`startSpan`): a call made by no traced work starts no trace of its own. */
  requireParent?: boolean;
}

function parentContext(parent: SpanOptions['parent']): Context {
  if (!parent) return context.active();
  if (typeof (parent as Context).getValue === 'function') return parent as Context;
  return propagation.extract(ROOT_CONTEXT, parent);
}

/**
 * Runs `fn` inside a new span that ends when it settles; a thrown error marks the span failed and
 * is thrown on. With tracing off it only calls `fn`.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span?: Span) => Promise<T>): Promise<T> {
  if (!tracingEnabled) return fn();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parentContext(options.parent),
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A span that ends on a later event rather than when a function settles, and the context it makes. */
export interface OpenSpan {
  span: Span;
  /** The parent's context with this span active: what to carry to the work it calls. */
  context: Context;
}

/**
 * Starts a span that its caller ends (`span.end()`), for work whose end is an event, such as an
 * HTTP exchange. Undefined with tracing off, or without a parent when one is required.
 */
export function startSpan(name: string, options: SpanOptions = {}): OpenSpan | undefined {
  if (!tracingEnabled) return undefined;
  const parent = parentContext(options.parent);
  const parentSpan = trace.getSpanContext(parent);
  if (options.requireParent && !(parentSpan && trace.isSpanContextValid(parentSpan))) return undefined;
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** `trace_id` and `span_id` of the active span, for log lines; undefined outside a trace. */
export function traceFields(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** Exports the spans still buffered; a process calls it last when it stops. */
export async function flushTracing(): Promise<void> {
  if (!tracingEnabled) return;
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as {
    forceFlush?: () => Promise<void>;
  };
  await provider.forceFlush?.();
}

/**
 * Names the active (HTTP server) span after the route pattern, where express does not know the
 * route: the gateway routes by its own table.
 */
export function nameRequestSpan(method: string, route: string): void {
  if (!tracingEnabled) return;
  const span = trace.getActiveSpan();
  span?.updateName(`${method} ${route}`);
  span?.setAttribute('http.route', route);
}

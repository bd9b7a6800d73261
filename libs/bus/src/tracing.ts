import type { TextMapGetter, TextMapSetter } from '@imm/telemetry';
import type { MsgHdrs } from 'nats';

/** W3C trace context in NATS message headers (`traceparent`, `tracestate`). */
export const natsHeaderSetter: TextMapSetter<MsgHdrs> = {
  set: (headers, key, value) => headers.set(key, value),
};

export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (headers) => headers?.keys() ?? [],
  get: (headers, key) => headers?.get(key) || undefined,
};

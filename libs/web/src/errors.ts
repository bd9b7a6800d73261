/**
 * The one error hierarchy. Code anywhere throws these; `errorHandler` is the only place that turns
 * them into the envelope. Messages are keys into `messages.ts` (or field maps of keys), translated
 * when the response is written, so the same error reads in English or Korean.
 */
export const ErrorCode = {
  UNKNOWN: 0,
  BADREQUEST: 2,
  UNAUTHENTICATED: 3,
  PERMISSIONDENIED: 4,
  NOTFOUND: 5,
  METHODNOTALLOWED: 6,
  NOTACCEPTABLE: 7,
  UNSUPPORTEDMEDIATYPE: 8,
  THROTTLED: 9,
  DATABASEERROR: 10,
  CONFLICT: 11,
  SERVICEUNAVAILABLE: 12,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A message: a key of `messages.ts` with its parameters. */
export interface MessageRef {
  key: string;
  params?: Record<string, string | number>;
}
export type FieldMessages = Record<string, MessageRef[]>;

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCodeValue,
    readonly detail: MessageRef | FieldMessages,
    readonly headers: Record<string, string> = {},
  ) {
    // The log line's message: the message key, or the fields a field map speaks of.
    super('key' in detail && typeof detail.key === 'string' ? detail.key : `fields: ${Object.keys(detail).join(', ')}`);
    this.name = new.target.name;
  }
}

const ref = (key: string, params?: MessageRef['params']): MessageRef => ({ key, params });

export class ValidationError extends AppError {
  constructor(fields: FieldMessages) {
    super(400, ErrorCode.BADREQUEST, fields);
  }
  /** A single field's message, e.g. a duplicate username. */
  static field(field: string, key: string, params?: MessageRef['params']): ValidationError {
    return new ValidationError({ [field]: [ref(key, params)] });
  }
}

export class BadRequestError extends AppError {
  constructor(key = 'bad_request', params?: MessageRef['params']) {
    super(400, ErrorCode.BADREQUEST, ref(key, params));
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    super(413, ErrorCode.BADREQUEST, ref('payload_too_large', { limit }));
  }
}

export class UnauthenticatedError extends AppError {
  constructor(key = 'not_authenticated') {
    super(401, ErrorCode.UNAUTHENTICATED, ref(key), { 'WWW-Authenticate': 'Bearer' });
  }
}

export class PermissionDeniedError extends AppError {
  constructor(key = 'permission_denied') {
    super(403, ErrorCode.PERMISSIONDENIED, ref(key));
  }
}

export class NotFoundError extends AppError {
  constructor(key = 'not_found') {
    super(404, ErrorCode.NOTFOUND, ref(key));
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(method: string, allowed: string[]) {
    super(405, ErrorCode.METHODNOTALLOWED, ref('method_not_allowed', { method }), { Allow: allowed.join(', ') });
  }
}

export class NotAcceptableError extends AppError {
  constructor() {
    super(406, ErrorCode.NOTACCEPTABLE, ref('not_acceptable'));
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(mediaType: string) {
    super(415, ErrorCode.UNSUPPORTEDMEDIATYPE, ref('unsupported_media_type', { mediaType }));
  }
}

export class ThrottledError extends AppError {
  constructor(retryAfterSeconds: number) {
    const wait = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, ErrorCode.THROTTLED, ref('throttled', { wait }), { 'Retry-After': String(wait) });
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor() {
    super(503, ErrorCode.DATABASEERROR, ref('database_unavailable'), { 'Retry-After': '5' });
  }
}

export class ConflictError extends AppError {
  constructor(key = 'conflict', params?: MessageRef['params']) {
    super(409, ErrorCode.CONFLICT, ref(key, params));
  }
}

/** A service or dependency is down (503), answered badly (502) or too slowly (504). */
export class ServiceUnavailableError extends AppError {
  constructor(status: 502 | 503 | 504 = 503, key = 'service_unavailable', retryAfterSeconds = 5) {
    super(status, ErrorCode.SERVICEUNAVAILABLE, ref(key), { 'Retry-After': String(retryAfterSeconds) });
  }
}

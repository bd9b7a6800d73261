/**
 * The one error hierarchy. Rules and adapters throw these; they say what went wrong, never how it
 * travels: the edge (`@imm/web`'s error handler) alone maps them to an HTTP status, headers and the
 * envelope. Messages are keys into the message catalogue (or field maps of keys), translated when
 * the response is written, so the same error reads in English or Korean.
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

/** A message: a key of the message catalogue with its parameters. */
export interface MessageRef {
  key: string;
  params?: Record<string, string | number>;
}
export type FieldMessages = Record<string, MessageRef[]>;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    readonly detail: MessageRef | FieldMessages,
    /** When the client may try again, for refusals that pass. */
    readonly retryAfterSeconds?: number,
  ) {
    // The log line's message: the message key, or the fields a field map speaks of.
    super('key' in detail && typeof detail.key === 'string' ? detail.key : `fields: ${Object.keys(detail).join(', ')}`);
    this.name = new.target.name;
  }
}

const ref = (key: string, params?: MessageRef['params']): MessageRef => ({ key, params });

export class ValidationError extends AppError {
  constructor(fields: FieldMessages) {
    super(ErrorCode.BADREQUEST, fields);
  }
  /** A single field's message, e.g. a duplicate username. */
  static field(field: string, key: string, params?: MessageRef['params']): ValidationError {
    return new ValidationError({ [field]: [ref(key, params)] });
  }
}

export class BadRequestError extends AppError {
  constructor(key = 'bad_request', params?: MessageRef['params']) {
    super(ErrorCode.BADREQUEST, ref(key, params));
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limit: string) {
    super(ErrorCode.BADREQUEST, ref('payload_too_large', { limit }));
  }
}

export class UnauthenticatedError extends AppError {
  constructor(key = 'not_authenticated') {
    super(ErrorCode.UNAUTHENTICATED, ref(key));
  }
}

export class PermissionDeniedError extends AppError {
  constructor(key = 'permission_denied') {
    super(ErrorCode.PERMISSIONDENIED, ref(key));
  }
}

export class NotFoundError extends AppError {
  constructor(key = 'not_found') {
    super(ErrorCode.NOTFOUND, ref(key));
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(
    method: string,
    readonly allowed: string[],
  ) {
    super(ErrorCode.METHODNOTALLOWED, ref('method_not_allowed', { method }));
  }
}

export class NotAcceptableError extends AppError {
  constructor() {
    super(ErrorCode.NOTACCEPTABLE, ref('not_acceptable'));
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(mediaType: string) {
    super(ErrorCode.UNSUPPORTEDMEDIATYPE, ref('unsupported_media_type', { mediaType }));
  }
}

export class ThrottledError extends AppError {
  constructor(retryAfterSeconds: number) {
    const wait = Math.max(1, Math.ceil(retryAfterSeconds));
    super(ErrorCode.THROTTLED, ref('throttled', { wait }), wait);
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor() {
    super(ErrorCode.DATABASEERROR, ref('database_unavailable'), 5);
  }
}

export class ConflictError extends AppError {
  constructor(key = 'conflict', params?: MessageRef['params']) {
    super(ErrorCode.CONFLICT, ref(key, params));
  }
}

/** Why a service or dependency failed us: it is down, it answered badly, or it answered too slowly. */
export type Unavailability = 'down' | 'bad_reply' | 'timed_out';

export class ServiceUnavailableError extends AppError {
  constructor(
    readonly why: Unavailability = 'down',
    key = 'service_unavailable',
    retryAfterSeconds = 5,
  ) {
    super(ErrorCode.SERVICEUNAVAILABLE, ref(key), retryAfterSeconds);
  }
}

/** Some dependencies of a process are not ready, by name. */
export class NotReadyError extends AppError {
  constructor(down: string[]) {
    super(ErrorCode.SERVICEUNAVAILABLE, Object.fromEntries(down.map((name) => [name, [ref('dependency_down')]])), 5);
  }
}

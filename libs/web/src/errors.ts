import {
  AppError,
  BadRequestError,
  ConflictError,
  DatabaseUnavailableError,
  type ErrorCodeValue,
  type FieldMessages,
  MethodNotAllowedError,
  type MessageRef,
  NotAcceptableError,
  NotFoundError,
  NotReadyError,
  PayloadTooLargeError,
  PermissionDeniedError,
  ServiceUnavailableError,
  ThrottledError,
  UnauthenticatedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '@imm/errors';

/**
 * Where the error hierarchy of `@imm/errors` meets HTTP: the status and headers each error is
 * answered with. Only the edge knows them; the rules that throw the errors do not.
 */

/** A refusal that exists only at the HTTP layer (a request the parser could not read, an internal error). */
export class HttpError extends AppError {
  constructor(
    readonly status: number,
    code: ErrorCodeValue,
    detail: MessageRef | FieldMessages,
  ) {
    super(code, detail);
  }
}

const unavailableStatus = { down: 503, bad_reply: 502, timed_out: 504 } as const;

const statusOfClass: [new (...args: never[]) => AppError, number][] = [
  [ValidationError, 400],
  [PayloadTooLargeError, 413],
  [BadRequestError, 400],
  [UnauthenticatedError, 401],
  [PermissionDeniedError, 403],
  [NotFoundError, 404],
  [MethodNotAllowedError, 405],
  [NotAcceptableError, 406],
  [ConflictError, 409],
  [UnsupportedMediaTypeError, 415],
  [ThrottledError, 429],
  [DatabaseUnavailableError, 503],
  [NotReadyError, 503],
];

export function httpStatusOf(error: AppError): number {
  if (error instanceof HttpError) return error.status;
  if (error instanceof ServiceUnavailableError) return unavailableStatus[error.why];
  return statusOfClass.find(([kind]) => error instanceof kind)?.[1] ?? 500;
}

export function httpHeadersOf(error: AppError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error instanceof UnauthenticatedError) headers['WWW-Authenticate'] = 'Bearer';
  if (error instanceof MethodNotAllowedError) headers.Allow = error.allowed.join(', ');
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
  return headers;
}

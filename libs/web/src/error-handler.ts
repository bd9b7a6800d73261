import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isConnectionError } from '@imm/db/errors';
import type { Logger } from '@imm/logging';
import {
  AppError,
  BadRequestError,
  DatabaseUnavailableError,
  ErrorCode,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '@imm/errors';
import { HttpError, httpHeadersOf, httpStatusOf } from './errors';
import { errorEnvelope, languageOf } from './envelope';

/** Errors from body-parser, by their `type`. */
function fromBodyParser(error: { type?: string; limit?: number; charset?: string }): AppError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new BadRequestError('malformed_json');
    case 'entity.too.large':
      return new PayloadTooLargeError(`${error.limit ?? '?'} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(error.charset ?? 'encoding');
    case 'request.aborted':
    case 'request.size.invalid':
      return new BadRequestError();
    default:
      return undefined;
  }
}

/** The status of an http-errors error (what body-parser throws), when it is one a client caused. */
function exposedStatusOf(error: unknown): number | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const e = error as { status?: unknown; expose?: unknown };
  return e.expose === true && typeof e.status === 'number' ? e.status : undefined;
}

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error && typeof error === 'object' && 'type' in error) {
    const parsed = fromBodyParser(error as { type?: string });
    if (parsed) return parsed;
  }
  // The one check of what a database outage looks like (pool timeouts, SQLSTATEs, dropped sockets).
  if (isConnectionError(error)) return new DatabaseUnavailableError();
  const status = exposedStatusOf(error);
  // Body parsing's other client errors, e.g. a gzip Content-Encoding on a body that is not gzip.
  if (status === 400) return new BadRequestError('body_encoding_invalid');
  return undefined;
}

export const notFoundHandler: RequestHandler = () => {
  throw new NotFoundError('route_not_found');
};

/** The one place where an error becomes the envelope. Unknown errors are logged and never leaked. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = toAppError(error);
    const appError = known ?? new HttpError(500, ErrorCode.UNKNOWN, { key: 'internal_error' });
    const status = httpStatusOf(appError);
    if (!known) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'unhandled error');
    else if (status >= 500) logger.warn({ err: error, url: req.originalUrl }, appError.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.set(httpHeadersOf(appError));
    res.status(status).json(errorEnvelope(appError, languageOf(req)));
  };
}

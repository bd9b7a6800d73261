import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '@imm/logging';
import {
  AppError,
  BadRequestError,
  DatabaseUnavailableError,
  ErrorCode,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './errors';
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

const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);

/** A lost database connection is the client's 503, not our 500. */
function isDatabaseOutage(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: string; name?: string; cause?: unknown };
  if (e.name === 'ConnectionException') return true;
  if (e.code && connectionCodes.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== error && isDatabaseOutage(e.cause);
}

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error && typeof error === 'object' && 'type' in error) {
    const parsed = fromBodyParser(error as { type?: string });
    if (parsed) return parsed;
  }
  if (isDatabaseOutage(error)) return new DatabaseUnavailableError();
  return undefined;
}

export const notFoundHandler: RequestHandler = () => {
  throw new NotFoundError('route_not_found');
};

/** The one place where an error becomes the envelope. Unknown errors are logged and never leaked. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = toAppError(error);
    const appError = known ?? new AppError(500, ErrorCode.UNKNOWN, { key: 'internal_error' });
    if (!known) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'unhandled error');
    else if (appError.status >= 500) logger.warn({ err: error, url: req.originalUrl }, appError.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.set(appError.headers);
    res.status(appError.status).json(errorEnvelope(appError, languageOf(req)));
  };
}

import {
  ConflictError,
  DatabaseUnavailableError,
  MethodNotAllowedError,
  NotFoundError,
  NotReadyError,
  ServiceUnavailableError,
  ThrottledError,
  UnauthenticatedError,
  ValidationError,
} from '@imm/errors';
import { describe, expect, it } from 'vitest';
import { httpHeadersOf, httpStatusOf } from '../src/index';

describe('errors at the HTTP edge', () => {
  it('answers each error with its status', () => {
    expect(httpStatusOf(ValidationError.field('name', 'required'))).toBe(400);
    expect(httpStatusOf(new UnauthenticatedError())).toBe(401);
    expect(httpStatusOf(new NotFoundError())).toBe(404);
    expect(httpStatusOf(new MethodNotAllowedError('PUT', ['GET']))).toBe(405);
    expect(httpStatusOf(new ConflictError())).toBe(409);
    expect(httpStatusOf(new ThrottledError(3))).toBe(429);
    expect(httpStatusOf(new DatabaseUnavailableError())).toBe(503);
    expect(httpStatusOf(new NotReadyError(['database']))).toBe(503);
    expect(httpStatusOf(new ServiceUnavailableError('down'))).toBe(503);
    expect(httpStatusOf(new ServiceUnavailableError('bad_reply'))).toBe(502);
    expect(httpStatusOf(new ServiceUnavailableError('timed_out'))).toBe(504);
  });

  it('adds the headers a client needs to act on it', () => {
    expect(httpHeadersOf(new UnauthenticatedError())).toEqual({ 'WWW-Authenticate': 'Bearer' });
    expect(httpHeadersOf(new MethodNotAllowedError('PUT', ['GET', 'HEAD']))).toEqual({ Allow: 'GET, HEAD' });
    expect(httpHeadersOf(new ThrottledError(2.2))).toEqual({ 'Retry-After': '3' });
    expect(httpHeadersOf(new ServiceUnavailableError('down', 'password_work_busy', 1))).toEqual({ 'Retry-After': '1' });
    expect(httpHeadersOf(new NotFoundError())).toEqual({});
  });
});

import type { Request } from 'express';
import type { z } from 'zod';
import { MAX_ID } from '@imm/contracts';
import { type FieldMessages, type MessageRef, NotFoundError, ValidationError } from '@imm/errors';
import { hasMessage } from './messages';

const NON_FIELD = 'non_field_errors';

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns one zod issue into one of our message keys, so every field message is translatable. */
function messageOf(issue: z.core.$ZodIssue, data: unknown): MessageRef {
  if (hasMessage(issue.message)) return { key: issue.message };
  const value = valueAt(data, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return { key: 'required' };
      if (value === null) return { key: 'null_not_allowed' };
      if (issue.expected === 'int' || issue.expected === 'bigint') return { key: 'invalid_integer' };
      if (issue.expected === 'number') return { key: 'invalid_number' };
      if (issue.expected === 'boolean') return { key: 'invalid_boolean' };
      if (issue.expected === 'string') return { key: 'invalid_string' };
      if (issue.expected === 'object' && issue.path.length === 0)
        return { key: 'body_not_object', params: { got: Array.isArray(value) ? 'list' : typeof value } };
      return { key: 'invalid_value' };
    case 'too_big':
      return issue.origin === 'string'
        ? { key: 'max_length', params: { max: Number(issue.maximum) } }
        : { key: 'max_value', params: { max: Number(issue.maximum) } };
    case 'too_small':
      if (issue.origin === 'string')
        return value === '' ? { key: 'blank' } : { key: 'min_length', params: { min: Number(issue.minimum) } };
      return { key: 'min_value', params: { min: Number(issue.minimum) } };
    case 'invalid_format':
      if (issue.format === 'email') return { key: 'invalid_email' };
      if (issue.format === 'url') return { key: 'invalid_url' };
      if (issue.format === 'datetime' || issue.format === 'date') return { key: 'invalid_datetime' };
      return { key: 'invalid_value' };
    case 'invalid_value':
    case 'invalid_union':
      return { key: 'invalid_choice', params: { value: String(value) } };
    default:
      return { key: 'invalid_value' };
  }
}

export function fieldMessages(error: z.ZodError, data: unknown): FieldMessages {
  const fields: FieldMessages = {};
  for (const issue of error.issues) {
    const field = issue.path.length > 0 ? issue.path.join('.') : NON_FIELD;
    const list = fields[field] ?? [];
    list.push(messageOf(issue, data));
    fields[field] = list;
  }
  return fields;
}

/** Paths of strings holding a NUL character, which Postgres text cannot store. */
function nulPaths(data: unknown, path: string[] = [], found: string[] = []): string[] {
  if (typeof data === 'string') {
    if (data.includes('\u0000')) found.push(path.length > 0 ? path.join('.') : NON_FIELD);
  } else if (data !== null && typeof data === 'object') {
    for (const [key, value] of Object.entries(data)) nulPaths(value, [...path, key], found);
  }
  return found;
}

/** Validates data against a schema; a failure is a 400 with a message per field. */
export function validate<S extends z.ZodType>(schema: S, data: unknown): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) throw new ValidationError(fieldMessages(result.error, data));
  // Checked on what the schema kept, so an ignored extra field cannot fail a request.
  const withNul = nulPaths(result.data);
  if (withNul.length > 0) {
    throw new ValidationError(Object.fromEntries(withNul.map((field) => [field, [{ key: 'null_character' }]])));
  }
  return result.data;
}

export const parseBody = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => validate(schema, req.body);
export const parseQuery = <S extends z.ZodType>(schema: S, req: Request): z.infer<S> => validate(schema, req.query);

/** Ids in paths are positive integers that fit a Postgres integer; anything else is a 404. */
export function parseId(raw: unknown): number {
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,9}$/.test(raw)) throw new NotFoundError();
  const id = Number(raw);
  if (id > MAX_ID) throw new NotFoundError();
  return id;
}

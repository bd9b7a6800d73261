import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '@imm/errors';
import { errorEnvelope, parseId, pickLanguage, validate } from '../src/index';

const schema = z.object({ name: z.string().min(1).max(5), count: z.int().min(1) });

function messagesOf(data: unknown, language: 'en' | 'ko' = 'en') {
  try {
    validate(schema, data);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return errorEnvelope(error as ValidationError, language).message;
  }
  throw new Error('expected a validation error');
}

describe('validate', () => {
  it('says per field what is wrong, in Django’s words', () => {
    expect(messagesOf({ name: '', count: 'x' })).toEqual({
      name: ['This field may not be blank.'],
      count: ['A valid number is required.'],
    });
    expect(messagesOf({ name: 'toolong' })).toEqual({
      name: ['Ensure this field has no more than 5 characters.'],
      count: ['This field is required.'],
    });
    expect(messagesOf([])).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
  });

  it('speaks Korean when asked', () => {
    expect(messagesOf({ name: 'a' }, 'ko')).toEqual({ count: ['이 필드는 필수 항목입니다.'] });
  });

  it('refuses NUL characters, which Postgres cannot store, but not in fields it ignores', () => {
    expect(messagesOf({ name: 'a\u0000', count: 1 })).toEqual({ name: ['Null characters are not allowed.'] });
    expect(validate(schema, { name: 'ab', count: 2, extra: '\u0000' })).toEqual({ name: 'ab', count: 2 });
  });
});

describe('parseId', () => {
  it('takes positive integers that fit a Postgres integer, and 404s the rest', () => {
    expect(parseId('1')).toBe(1);
    expect(parseId('2147483647')).toBe(2147483647);
    for (const raw of ['0', '-1', '01', 'abc', '1.5', '2147483648', '99999999999', '', undefined]) {
      expect(() => parseId(raw), String(raw)).toThrow(NotFoundError);
    }
  });
});

describe('pickLanguage', () => {
  it('picks Korean only when the client prefers it', () => {
    expect(pickLanguage('ko')).toBe('ko');
    expect(pickLanguage('ko-KR,ko;q=0.9,en;q=0.8')).toBe('ko');
    expect(pickLanguage('en;q=0.9,ko;q=0.5')).toBe('en');
    expect(pickLanguage('fr, de')).toBe('en');
    expect(pickLanguage(undefined)).toBe('en');
    expect(pickLanguage(';;;q=abc,ko;q=x')).toBe('en');
  });
});

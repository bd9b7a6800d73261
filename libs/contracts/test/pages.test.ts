import { describe, expect, it } from 'vitest';
import { pageCount, pageOf, resolvePage } from '../src/pages';

describe('pages', () => {
  it('counts pages, with one page for an empty list', () => {
    expect(pageCount(0, 10)).toBe(1);
    expect(pageCount(10, 10)).toBe(1);
    expect(pageCount(11, 10)).toBe(2);
    expect(resolvePage({ page: 1, pageSize: 10 }, 0)).toBe(1);
    expect(() => resolvePage({ page: 2, pageSize: 10 }, 10)).toThrow('not_found');
    expect(resolvePage({ page: 'last', pageSize: 10 }, 11)).toBe(2);
    expect(pageOf([], 11, 2, 10)).toMatchObject({ hasNext: false, hasPrevious: true });
  });
});

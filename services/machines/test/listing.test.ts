import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, type Json, startHarness } from './harness';

/**
 * Pagination, filters, search and ordering. 120 machines are inserted with SQL (varied owners,
 * statuses, names and times, with ties on purpose), plus a few through the API whose names carry
 * LIKE's special characters.
 */
let h: Harness;
let token: string;
let all: Json[];

const specialNames = ['100% PP', '100 PP', 'press_7', 'pressX7', "O'Brien's press", 'C:\\molds\\A', 'C:moldsA'];

beforeAll(async () => {
  h = await startHarness('machines_list');
  token = h.issuer.token({ id: 5, username: 'lister' });
  await h.sql(
    `insert into machines.machine (name, location, status, owner_id, created_at, updated_at)
     select 'Machine ' || chr(65 + (i % 26)) || (i % 4),
            case when i % 2 = 0 then 'Hall North' else 'hall south' end,
            1 + i % 5,
            1 + i % 3,
            timestamptz '2025-01-01' + (i % 40) * interval '1 hour',
            timestamptz '2025-06-01' + ((i * 37) % 120) * interval '1 minute'
     from generate_series(1, 120) as i`,
  );
  for (const name of specialNames) {
    const res = await call(h.base, 'POST', '/api/machines/', { token, body: { name, location: 'Annex' } });
    expect(res.status).toBe(201);
  }
  all = await everything();
});
afterAll(async () => {
  await h?.close();
});

const list = (query = '', headers: Record<string, string> = {}) =>
  call(h.base, 'GET', `/api/machines/${query}`, { token, headers });

/** Every machine, through the API, in id order. */
async function everything(query = ''): Promise<Json[]> {
  const found: Json[] = [];
  for (let page = 1; ; page++) {
    const res = await list(`?page_size=100&page=${page}${query}`);
    expect(res.status).toBe(200);
    found.push(...res.body.result.results);
    if (!res.body.result.next) return found;
  }
}

describe('pagination', () => {
  it('pages 10 at a time by default, with absolute next/previous links', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    const page = res.body.result;
    expect(page.count).toBe(127);
    expect(page.results).toHaveLength(10);
    expect(page.results.map((m: Json) => m.id)).toEqual(all.slice(0, 10).map((m) => m.id));
    expect(page.previous).toBeNull();
    expect(page.next).toBe(`${h.base}/api/machines/?page=2`);
  });

  it('links keep the other parameters; page 2 links back to a URL without page', async () => {
    const res = await list('?status=2&page=2&page_size=5');
    const page = res.body.result;
    expect(page.previous).toBe(`${h.base}/api/machines/?status=2&page_size=5`);
    expect(page.next).toBe(`${h.base}/api/machines/?status=2&page=3&page_size=5`);
  });

  it('builds links from the forwarded host and scheme the gateway sends', async () => {
    const res = await list('?page=2', { 'x-forwarded-host': 'imm.example.com', 'x-forwarded-proto': 'https' });
    expect(res.body.result.next).toBe('https://imm.example.com/api/machines/?page=3');
    expect(res.body.result.previous).toBe('https://imm.example.com/api/machines/');
  });

  it('serves the last page (partial) with next null, and page=last', async () => {
    const last = await list('?page=13');
    expect(last.status).toBe(200);
    expect(last.body.result.results).toHaveLength(7);
    expect(last.body.result.next).toBeNull();
    expect(last.body.result.previous).toBe(`${h.base}/api/machines/?page=12`);
    const named = await list('?page=last');
    expect(named.body.result.results).toEqual(last.body.result.results);
  });

  it.each(['14', '1000', '0', '-1', 'abc', '1.5', '99999999999999999999', ''])(
    'answers page=%j with 404 (except empty)',
    async (page) => {
      const res = await list(`?page=${page}`);
      if (page === '') {
        expect(res.status).toBe(200);
        return;
      }
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ status: 0, message: 'Not found.', error_code: 5 });
    },
  );

  it('clamps page_size to 100 and rejects a page_size that is not a positive integer', async () => {
    const big = await list('?page_size=1000');
    expect(big.status).toBe(200);
    expect(big.body.result.results).toHaveLength(100);
    expect(big.body.result.next).toBe(`${h.base}/api/machines/?page_size=1000&page=2`);
    expect((await list('?page_size=99999999999999999999999')).body.result.results).toHaveLength(100);
    expect((await list('?page_size=3')).body.result.results).toHaveLength(3);
    for (const [value, message] of [
      ['0', 'Ensure this value is greater than or equal to 1.'],
      ['abc', 'A valid integer is required.'],
      ['-5', 'A valid integer is required.'],
      ['2.5', 'A valid integer is required.'],
    ]) {
      const res = await list(`?page_size=${value}`);
      expect(res.status, value).toBe(400);
      expect(res.body).toEqual({ status: 0, message: { page_size: [message] }, error_code: 2 });
    }
  });

  it('has a first page even when nothing matches, and no second one', async () => {
    const empty = await list('?search=nothing-like-this');
    expect(empty.status).toBe(200);
    expect(empty.body.result).toEqual({ count: 0, next: null, previous: null, results: [] });
    expect((await list('?search=nothing-like-this&page=2')).status).toBe(404);
    expect((await list('?search=nothing-like-this&page=last')).status).toBe(200);
  });

  it('keeps the count exact through creates and deletes', async () => {
    const created = await call(h.base, 'POST', '/api/machines/', { token, body: { name: 'temp', location: 'x' } });
    expect((await list()).body.result.count).toBe(128);
    await call(h.base, 'DELETE', `/api/machines/${created.body.result.id}/`, { token });
    expect((await list()).body.result.count).toBe(127);
    expect((await h.sql('select sum(n)::int as n from machines.machine_count'))[0]).toEqual({ n: 127 });
  });

  it('reads a repeated parameter as its last value, as Django did', async () => {
    const res = await list('?page_size=2&page_size=4');
    expect(res.body.result.results).toHaveLength(4);
  });
});

describe('filters', () => {
  it.each([1, 2, 3, 4, 5])('status=%i', async (status) => {
    const found = await everything(`&status=${status}`);
    const expected = all.filter((m) => m.status === status);
    expect(found.map((m) => m.id)).toEqual(expected.map((m) => m.id));
    expect((await list(`?status=${status}`)).body.result.count).toBe(expected.length);
  });

  it('owner_id, alone and with status', async () => {
    expect((await everything('&owner_id=2')).map((m) => m.id)).toEqual(
      all.filter((m) => m.owner_id === 2).map((m) => m.id),
    );
    const both = await everything('&owner_id=2&status=3');
    expect(both.map((m) => m.id)).toEqual(all.filter((m) => m.owner_id === 2 && m.status === 3).map((m) => m.id));
    expect(both.length).toBeGreaterThan(0);
    expect((await list('?owner_id=424242')).body.result.count).toBe(0);
  });

  it('ignores empty filter values', async () => {
    expect((await list('?status=&owner_id=&search=&ordering=')).body.result.count).toBe(127);
  });

  it.each([
    ['status=0', 'status', '"0" is not a valid choice.'],
    ['status=6', 'status', '"6" is not a valid choice.'],
    ['status=READY', 'status', '"READY" is not a valid choice.'],
    ['owner_id=abc', 'owner_id', 'A valid integer is required.'],
    ['owner_id=0', 'owner_id', 'Ensure this value is greater than or equal to 1.'],
    ['owner_id=99999999999', 'owner_id', 'Ensure this value is less than or equal to 2147483647.'],
    ['ordering=owner', 'ordering', '"owner" is not a valid choice.'],
    ['ordering=-location', 'ordering', '"-location" is not a valid choice.'],
    ['ordering=name,id', 'ordering', '"name,id" is not a valid choice.'],
    [`search=${'x'.repeat(257)}`, 'search', 'Ensure this field has no more than 256 characters.'],
  ])('refuses %s with 400', async (query, field, message) => {
    const res = await list(`?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 0, message: { [field]: [message] }, error_code: 2 });
  });
});

describe('search', () => {
  const names = async (search: string) =>
    (await everything(`&search=${encodeURIComponent(search)}`)).map((m) => m.name).sort();

  it('matches name or location, case-insensitively', async () => {
    expect(await names('machine a0')).toEqual(
      all
        .filter((m) => /machine a0/i.test(m.name))
        .map((m) => m.name)
        .sort(),
    );
    const south = await everything('&search=SOUTH');
    expect(south).toHaveLength(60);
    expect(south.every((m) => m.location === 'hall south')).toBe(true);
    expect(await names('annex')).toEqual([...specialNames].sort());
  });

  it('matches % literally', async () => {
    expect(await names('100%')).toEqual(['100% PP']);
    expect(await names('%')).toEqual(['100% PP']);
  });

  it('matches _ literally', async () => {
    expect(await names('s_7')).toEqual(['press_7']);
    expect(await names('_')).toEqual(['press_7']);
  });

  it("matches ' literally", async () => {
    expect(await names("o'brien")).toEqual(["O'Brien's press"]);
    expect(await names("'")).toEqual(["O'Brien's press"]);
  });

  it('matches \\ literally', async () => {
    expect(await names('c:\\molds')).toEqual(['C:\\molds\\A']);
    expect(await names('\\')).toEqual(['C:\\molds\\A']);
    expect(await names('s\\a')).toEqual(['C:\\molds\\A']);
  });

  it('combines with filters and ordering', async () => {
    const found = await everything('&search=hall%20north&status=2&ordering=-name');
    const expected = all
      .filter((m) => m.location === 'Hall North' && m.status === 2)
      .sort((a, b) => (a.name === b.name ? b.id - a.id : a.name < b.name ? 1 : -1));
    expect(found.map((m) => m.id)).toEqual(expected.map((m) => m.id));
  });
});

describe('ordering', () => {
  const fields = ['id', 'name', 'status', 'created_at', 'updated_at'] as const;
  const compare = (field: string, descending: boolean) => (a: Json, b: Json) => {
    const x = a[field];
    const y = b[field];
    // Names here are ASCII letters, digits and spaces in one case pattern, so code-point order
    // and the database collation agree.
    const primary = x === y ? 0 : x < y ? -1 : 1;
    const result = primary !== 0 ? primary : a.id - b.id;
    return descending ? -result : result;
  };

  it.each(fields.flatMap((field) => [field, `-${field}`]))(
    'ordering=%s breaks ties by id, across pages',
    async (ordering) => {
      const descending = ordering.startsWith('-');
      const field = descending ? ordering.slice(1) : ordering;
      // Small pages so ties straddle page boundaries.
      const found: Json[] = [];
      for (let page = 1; ; page++) {
        const res = await list(`?ordering=${ordering}&page_size=7&page=${page}&search=hall`);
        expect(res.status).toBe(200);
        found.push(...res.body.result.results);
        if (!res.body.result.next) break;
      }
      const expected = all.filter((m) => m.location.toLowerCase().startsWith('hall')).sort(compare(field, descending));
      expect(found.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      expect(new Set(found.map((m) => m.id)).size).toBe(found.length);
    },
  );

  it('defaults to id ascending', async () => {
    const ids = (await list('?page_size=100')).body.result.results.map((m: Json) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });
});

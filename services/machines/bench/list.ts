/**
 * Times the machine list (count + page, exactly as GET /api/machines/ runs them) over 100,000
 * machines in a database of its own, for each filter, search and ordering.
 *
 *   tsx services/machines/bench/list.ts          (npm run bench runs it too)
 *
 * Environment: DATABASE_URL (server and credentials; the database name is replaced by a fresh
 * one, dropped at the end unless BENCH_KEEP=1), BENCH_MACHINES (default 100000), BENCH_RUNS (default 30).
 * Prints p50/p95 per case. It asserts what cannot flake: the counts are exact (checked against
 * an independent ILIKE count) and the pages have the expected size. Its only timing target is
 * loose on purpose: a case whose median exceeds BENCH_MAX_P50_MS (default 250, about ten times
 * what a two-core laptop measures) fails, which catches a lost index, not a busy machine.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dropDatabase, openDatabase } from '@imm/db';
import { createLogger } from '@imm/logging';
import { entities, MACHINES_SCHEMA } from '../src/adapters/data/entities';
import { createMachineStore } from '../src/adapters/data/machine-store';
import { migrations } from '../src/adapters/data/migrations/index';
import type { ListRequest } from '../src/domain/listing';
import { createMachineService } from '../src/domain/machine-service';

const MACHINES = Number(process.env.BENCH_MACHINES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const ONLY = process.env.BENCH_ONLY; // a substring of the case names to run
const MAX_P50_MS = Number(process.env.BENCH_MAX_P50_MS ?? 250);
const WARMUP = 3;

function benchDatabaseUrl(): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/imm');
  url.pathname = `/imm_bench_machines_${randomBytes(4).toString('hex')}`;
  return url.toString();
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`bench check failed: ${message}`);
}

const request = (overrides: Partial<ListRequest> & { filter?: ListRequest['filter'] } = {}): ListRequest => ({
  filter: {},
  ordering: { field: 'id', descending: false },
  page: 1,
  pageSize: 10,
  ...overrides,
});

async function main(): Promise<void> {
  const url = benchDatabaseUrl();
  const logger = createLogger('machines-bench', 'warn');
  const orm = await openDatabase({ url, schema: MACHINES_SCHEMA, entities, migrations, logger, poolMax: 4 });
  const connection = orm.em.getConnection();
  try {
    const seedStart = performance.now();
    // Deterministic data: 1,000 owners, statuses spread unevenly (most READY), names from a few
    // models with a serial, locations from halls and lines, creation times over a year.
    await connection.execute(
      `insert into machine (name, location, status, owner_id, endpoint, created_at, updated_at)
       select (array['Engel e-mac','Arburg Allrounder','Haitian Mars','KraussMaffei CX','Sumitomo SE'])[(1 + i % 5)::int]
                || ' ' || lpad(i::text, 6, '0'),
              'Hall ' || chr((65 + (i / 7) % 8)::int) || ' / Line ' || (1 + i % 12),
              (array[1,2,2,2,2,3,4,4,5])[(1 + (i * 7919) % 9)::int],
              1 + (i * 104729) % 1000,
              case when i % 3 = 0 then 'sim://press-' || i else null end,
              timestamptz '2025-01-01' + (i * 7919 % 31536000) * interval '1 second',
              timestamptz '2025-06-01' + (i * 104729 % 31536000) * interval '1 second'
       from generate_series(1::bigint, ${MACHINES}) as i`,
    );
    // A few names with LIKE's special characters, which a search must match literally.
    await connection.execute(
      `insert into machine (name, location, status, owner_id) values
       ('100% PP line', 'Hall Z', 2, 1), ('press_7', 'Hall Z', 2, 1), ('O''Brien''s press', 'Hall Z', 2, 1),
       ('C:\\molds\\A', 'Hall Z', 2, 1)`,
    );
    await connection.execute('vacuum analyze machine');
    const total = MACHINES + 4;
    console.log(`seeded ${total} machines in ${Math.round(performance.now() - seedStart)} ms\n`);

    const service = createMachineService(createMachineStore(orm));
    const exact = async (where: string, params: unknown[] = []) =>
      Number((await connection.execute<{ n: string }[]>(`select count(*) as n from machine ${where}`, params))[0]?.n);

    const lastPage = Math.ceil(total / 10);
    const cases: [string, ListRequest, number][] = [
      ['default (page 1, by id)', request(), total],
      ['page 5,000 by id', request({ page: 5000 }), total],
      ['last page by id', request({ page: lastPage }), total],
      ['page_size=100, page 500', request({ pageSize: 100, page: 500 }), total],
      ['ordering=name', request({ ordering: { field: 'name', descending: false } }), total],
      ['ordering=-name, page 5,000', request({ ordering: { field: 'name', descending: true }, page: 5000 }), total],
      ['ordering=status', request({ ordering: { field: 'status', descending: false } }), total],
      ['ordering=-status, page 5,000', request({ ordering: { field: 'status', descending: true }, page: 5000 }), total],
      ['ordering=-created_at', request({ ordering: { field: 'created_at', descending: true } }), total],
      [
        'ordering=updated_at, last page',
        request({ ordering: { field: 'updated_at', descending: false }, page: lastPage }),
        total,
      ],
      ['status=2 (44%)', request({ filter: { status: 2 } }), await exact('where status = 2')],
      ['status=5 (11%)', request({ filter: { status: 5 } }), await exact('where status = 5')],
      [
        'status=2, ordering=-name',
        request({ filter: { status: 2 }, ordering: { field: 'name', descending: true } }),
        await exact('where status = 2'),
      ],
      ['status=4, page 500', request({ filter: { status: 4 }, page: 500 }), await exact('where status = 4')],
      ['owner_id=42', request({ filter: { ownerId: 42 } }), await exact('where owner_id = 42')],
      [
        'owner_id=42, ordering=-updated_at',
        request({ filter: { ownerId: 42 }, ordering: { field: 'updated_at', descending: true } }),
        await exact('where owner_id = 42'),
      ],
      [
        'search=arburg (20%)',
        request({ filter: { search: 'arburg' } }),
        await exact(`where name ilike '%arburg%' or location ilike '%arburg%'`),
      ],
      [
        'search=000123 (rare)',
        request({ filter: { search: '000123' } }),
        await exact(`where name ilike '%000123%' or location ilike '%000123%'`),
      ],
      [
        'search=hall c / line 1',
        request({ filter: { search: 'hall c / line 1' } }),
        await exact(`where name ilike '%hall c / line 1%' or location ilike '%hall c / line 1%'`),
      ],
      [
        'search=e (1 char, no trigram)',
        request({ filter: { search: 'e' } }),
        await exact(`where name ilike '%e%' or location ilike '%e%'`),
      ],
      ['search=100% (literal %)', request({ filter: { search: '100%' } }), 1],
      ['search=s_7 (literal _)', request({ filter: { search: 's_7' } }), 1],
      [
        'search=arburg, status=2, ordering=name',
        request({ filter: { search: 'arburg', status: 2 }, ordering: { field: 'name', descending: false } }),
        await exact(`where (name ilike '%arburg%' or location ilike '%arburg%') and status = 2`),
      ],
    ];

    const slow: string[] = [];
    console.log(`${'case'.padEnd(42)} ${'count'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}`);
    for (const [name, listRequest, expectedCount] of cases) {
      if (ONLY && !name.includes(ONLY)) continue;
      const times: number[] = [];
      for (let run = 0; run < WARMUP + RUNS; run++) {
        const start = performance.now();
        const page = await service.list(listRequest);
        const elapsed = performance.now() - start;
        if (run >= WARMUP) times.push(elapsed);
        if (run === 0) {
          check(page.count === expectedCount, `${name}: count ${page.count}, expected ${expectedCount}`);
          const page1 = typeof listRequest.page === 'number' ? listRequest.page : 1;
          const expectedItems = Math.max(
            0,
            Math.min(listRequest.pageSize, expectedCount - (page1 - 1) * listRequest.pageSize),
          );
          check(page.items.length === expectedItems, `${name}: ${page.items.length} items, expected ${expectedItems}`);
        }
      }
      times.sort((a, b) => a - b);
      if (percentile(times, 50) > MAX_P50_MS) slow.push(name);
      console.log(
        `${name.padEnd(42)} ${String(expectedCount).padStart(7)} ${percentile(times, 50).toFixed(2).padStart(8)} ${percentile(times, 95).toFixed(2).padStart(8)}`,
      );
    }
    check(slow.length === 0, `median above ${MAX_P50_MS} ms: ${slow.join(', ')}`);
  } finally {
    await orm.close(true);
    if (process.env.BENCH_KEEP === '1') console.log(`\nkept ${url}`);
    else await dropDatabase(url);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

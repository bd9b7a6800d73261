import { createLogger } from '@imm/logging';
import { dropTestDatabase, freePort, testInfrastructure } from '@imm/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkDatabase,
  type Database,
  defineEntity,
  isConnectionError,
  isUniqueViolation,
  Migration,
  MIGRATIONS_TABLE,
  openDatabase,
} from '../src/index';

const logger = createLogger('db-test', 'silent');

/** Counts its runs, so a test can tell a migration ran exactly once across processes' worth of opens. */
class CreateWidgets extends Migration {
  override up(): void {
    // Unqualified on purpose: it must land in the service's schema, not in `public`.
    this.addSql('create table widget (id serial primary key, name text not null unique)');
    this.addSql('create table migration_runs (at timestamptz not null default now())');
  }
}
class CountRun extends Migration {
  override up(): void {
    this.addSql('insert into migration_runs default values');
  }
}
const migrations = [
  { name: '0001_create_widgets', class: CreateWidgets },
  { name: '0002_count_run', class: CountRun },
];

const Widget = defineEntity({
  name: 'Widget',
  tableName: 'widget',
  properties: (p) => ({ id: p.integer().primary().autoincrement(), name: p.text() }),
});

const opened: Database[] = [];
const databases: string[] = [];

function newDatabaseUrl(): string {
  const { DATABASE_URL } = testInfrastructure('db');
  databases.push(DATABASE_URL);
  return DATABASE_URL;
}

async function open(url: string, schema = 'inventory'): Promise<Database> {
  const orm = await openDatabase({ url, schema, entities: [Widget], migrations, logger, poolMax: 3 });
  opened.push(orm);
  return orm;
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((orm) => orm.close(true)));
  await Promise.all(databases.splice(0).map((url) => dropTestDatabase(url)));
});

describe('openDatabase', () => {
  it('creates the database and schema, applies migrations once, and keeps their bookkeeping in the schema', async () => {
    const url = newDatabaseUrl();
    const orm = await open(url);
    await checkDatabase(orm);

    const tables = await query(
      url,
      `select table_schema, table_name from information_schema.tables
       where table_name in ('widget', 'migration_runs', $1) order by table_name`,
      [MIGRATIONS_TABLE],
    );
    expect(tables).toEqual([
      { table_schema: 'inventory', table_name: 'migration_runs' },
      { table_schema: 'inventory', table_name: MIGRATIONS_TABLE },
      { table_schema: 'inventory', table_name: 'widget' },
    ]);

    await orm.close(true);
    opened.length = 0;
    await open(url); // a restart: nothing pending
    expect(await query(url, 'select count(*)::int as n from inventory.migration_runs')).toEqual([{ n: 1 }]);
    expect(await query(url, `select name from inventory.${MIGRATIONS_TABLE} order by id`)).toEqual([
      { name: '0001_create_widgets' },
      { name: '0002_count_run' },
    ]);
  });

  it('applies only what is pending, and none of it when one fails (with that failure)', async () => {
    class CreateGadgets extends Migration {
      override up(): void {
        this.addSql('create table gadget (id serial primary key)');
      }
    }
    class Broken extends Migration {
      override up(): void {
        this.addSql('insert into no_such_table values (1)');
      }
    }
    const url = newDatabaseUrl();
    await open(url);
    const later = [...migrations, { name: '0003_create_gadgets', class: CreateGadgets }];
    const openWith = async (list: typeof later) => {
      const orm = await openDatabase({ url, schema: 'inventory', entities: [Widget], migrations: list, logger });
      opened.push(orm);
    };
    await expect(openWith([...later, { name: '0004_broken', class: Broken }])).rejects.toThrow(/no_such_table/);
    expect(await query(url, "select to_regclass('inventory.gadget') is null as absent")).toEqual([{ absent: true }]);
    await openWith(later);
    expect(await query(url, `select name from inventory.${MIGRATIONS_TABLE} order by id`)).toEqual([
      { name: '0001_create_widgets' },
      { name: '0002_count_run' },
      { name: '0003_create_gadgets' },
    ]);
    expect(await query(url, 'select count(*)::int as n from inventory.migration_runs')).toEqual([{ n: 1 }]);
  });

  it('lets processes that start together on a new database all succeed, migrating once', async () => {
    const url = newDatabaseUrl();
    await Promise.all([open(url), open(url), open(url)]);
    expect(await query(url, 'select count(*)::int as n from inventory.migration_runs')).toEqual([{ n: 1 }]);
  });

  it('keeps two services apart in one database', async () => {
    const url = newDatabaseUrl();
    const [a, b] = await Promise.all([open(url, 'svc_a'), open(url, 'svc_b')]);
    await a.em.fork().insert(Widget, { name: 'only in a' });
    expect(await b.em.fork().count(Widget)).toBe(0);
    expect(await a.em.fork().count(Widget)).toBe(1);
    expect(await query(url, 'select name from svc_a.widget')).toEqual([{ name: 'only in a' }]);
  });

  it('recognizes unique violations and connection failures', async () => {
    const url = newDatabaseUrl();
    const orm = await open(url);
    await orm.em.fork().insert(Widget, { name: 'dup' });
    const duplicate = await orm.em
      .fork()
      .insert(Widget, { name: 'dup' })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(isUniqueViolation(duplicate, 'widget_name_key')).toBe(true);
    expect(isUniqueViolation(duplicate, 'other')).toBe(false);
    expect(isConnectionError(duplicate)).toBe(false);

    const port = await freePort();
    const refused = await openDatabase({
      url: `postgres://postgres@127.0.0.1:${port}/nothing`,
      schema: 'x',
      entities: [],
      migrations: [],
      logger,
    }).catch((e: unknown) => e);
    expect(isConnectionError(refused)).toBe(true);
  });
});

/**
 * A migration: `up()` lists its SQL with `addSql`, run as written with the schema first on the
 * search path. Our own base rather than MikroORM's, so that a service can list its migrations
 * without loading MikroORM's migrator: the statements are run by that migrator, but on a thread of
 * its own (apply-migrations.ts).
 */
export abstract class Migration {
  readonly #statements: string[] = [];

  abstract up(): void;

  protected addSql(sql: string): void {
    this.#statements.push(sql);
  }

  /** The statements `up()` lists, in order. */
  static statementsOf(migration: Migration): string[] {
    migration.up();
    return migration.#statements.splice(0);
  }
}

/** One migration as a service lists it; the name is what the bookkeeping table records. */
export interface MigrationObject {
  name: string;
  class: new () => Migration;
}

import { Migration } from '@imm/db';

/**
 * Exact entry counts for the two unfiltered history lists, kept by a statement trigger in the
 * transaction that inserts: a page of a user's or a machine's history then never counts a million
 * rows. Sixteen slots per key (picked by backend pid), so concurrent commands of one busy user do
 * not queue on one counter row; a count is the sum of at most sixteen rows. History is never
 * deleted, so inserts are all there is to count.
 */
export class HistoryCounts extends Migration {
  override up(): void {
    // kind: 1 the user asked for the entry (worker), 2 the user owned its machine, 3 both at once.
    this.addSql(`create table user_history_count (
      user_id integer not null,
      kind smallint not null check (kind in (1, 2, 3)),
      slot smallint not null,
      n bigint not null,
      primary key (user_id, kind, slot)
    )`);
    this.addSql(`create table machine_history_count (
      machine_id integer not null,
      slot smallint not null,
      n bigint not null,
      primary key (machine_id, slot)
    )`);
    this.addSql(`create function history_count_track() returns trigger language plpgsql
      set search_path from current as $$
      declare
        s smallint := pg_backend_pid() % 16;
      begin
        insert into user_history_count (user_id, kind, slot, n)
          select user_id, kind, s, count(*) from (
            select worker as user_id, 1 as kind from added
            union all select machine_owner_id, 2 from added
            union all select worker, 3 from added where worker = machine_owner_id
          ) involved group by user_id, kind
          on conflict (user_id, kind, slot) do update set n = user_history_count.n + excluded.n;
        insert into machine_history_count (machine_id, slot, n)
          select machine_id, s, count(*) from added group by machine_id
          on conflict (machine_id, slot) do update set n = machine_history_count.n + excluded.n;
        return null;
      end $$`);
    this.addSql(`create trigger history_count_insert after insert on operation
      referencing new table as added for each statement execute function history_count_track()`);
    // Entries recorded before this migration.
    this.addSql(`insert into user_history_count (user_id, kind, slot, n)
      select user_id, kind, 0, count(*) from (
        select worker as user_id, 1 as kind from operation
        union all select machine_owner_id, 2 from operation
        union all select worker, 3 from operation where worker = machine_owner_id
      ) involved group by user_id, kind`);
    this.addSql(`insert into machine_history_count (machine_id, slot, n)
      select machine_id, 0, count(*) from operation group by machine_id`);
  }
}

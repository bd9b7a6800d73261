import { messagingTablesSql } from '@imm/bus';
import { Migration } from '@imm/db';

export class CreateOperations extends Migration {
  override up(): void {
    this.addSql(`create table operation (
      id serial primary key,
      request_datetime timestamptz not null,
      command text not null check (command in ('START', 'STOP')),
      worker integer not null,
      machine_id integer not null,
      machine_owner_id integer not null,
      result smallint not null check (result in (1, 2, 3, 4, 5, 7)),
      message text null,
      endpoint text null,
      request_id text null,
      created_at timestamptz not null default now(),
      finished_at timestamptz null
    )`);
    // One command at a time per machine: a second PENDING entry fails on this index.
    this.addSql('create unique index operation_one_pending_per_machine on operation (machine_id) where result = 4');
    this.addSql('create index operation_machine_idx on operation (machine_id, id desc)');
    this.addSql('create index operation_worker_idx on operation (worker, id desc)');
    this.addSql('create index operation_owner_idx on operation (machine_owner_id, id desc)');
    this.addSql(`create table idempotency_key (
      user_id integer not null,
      key text not null,
      fingerprint text not null,
      response text not null,
      created_at timestamptz not null default now(),
      primary key (user_id, key)
    )`);
    this.addSql('create index idempotency_key_created_idx on idempotency_key (created_at)');
    for (const sql of messagingTablesSql) this.addSql(sql);
  }
}

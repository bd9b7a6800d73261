import { Migration } from '@imm/db';

/**
 * The OPC UA status monitor's bookkeeping: which replica holds each machine's subscription (a
 * lease), and what was last published about the machine, so a replica that takes over knows what
 * counts as a change.
 */
export class CreateMachineWatch extends Migration {
  override up(): void {
    this.addSql(`create table machine_watch (
      machine_id integer primary key,
      endpoint text not null,
      holder text null,
      lease_until timestamptz null,
      job_status integer null,
      machine_mode integer null,
      reachable boolean null,
      observed_at timestamptz null
    )`);
    this.addSql('create index machine_watch_holder_idx on machine_watch (holder)');
    // The monitoring replicas alive now, so each takes a fair share of the machines.
    this.addSql(`create table monitor_replica (
      holder text primary key,
      alive_until timestamptz not null
    )`);
  }
}

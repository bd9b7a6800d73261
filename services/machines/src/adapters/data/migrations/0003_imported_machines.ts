import { Migration } from '@imm/db';

/**
 * Which machines came from the Django service, and in which import run: a second run leaves them
 * alone even after they were renamed or deleted here.
 */
export class ImportedMachines extends Migration {
  override up(): void {
    this.addSql(`create table imported_machine (
      machine_id integer primary key,
      run_id uuid not null,
      imported_at timestamptz not null default now()
    )`);
  }
}

import { Migration } from '@imm/db';

/**
 * Which users came from the Django service, and in which import run: a second run finds them here
 * and leaves them alone, whatever happened to them since (a rehashed password, a replaced admin).
 */
export class ImportedUsers extends Migration {
  override up(): void {
    this.addSql(`create table imported_user (
      user_id integer primary key,
      run_id uuid not null,
      imported_at timestamptz not null default now()
    )`);
  }
}

import { Migration } from '@imm/db';

/**
 * History imported from the Django service is marked with when it came. It is the record of what
 * happened there, never a live command: an imported PENDING entry (a command the old service never
 * finished) neither blocks the machine's next command nor is driven or expired by the sweeper.
 */
export class ImportedHistory extends Migration {
  override up(): void {
    this.addSql('alter table operation add column imported_at timestamptz null');
    this.addSql('drop index operation_one_pending_per_machine');
    this.addSql(`create unique index operation_one_pending_per_machine on operation (machine_id)
      where result = 4 and imported_at is null`);
  }
}

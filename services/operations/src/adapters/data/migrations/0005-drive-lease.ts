import { Migration } from '@imm/db';

/**
 * What a worker driving a command leaves in its entry: a lease (who drives it, until when, renewed
 * while it drives) that the sweeper and other workers respect, and the moment the command may have
 * gone out to the machine, after which nobody sends it again.
 */
export class DriveLease extends Migration {
  override up(): void {
    this.addSql('alter table operation add column sent_at timestamptz null');
    this.addSql('alter table operation add column lease_holder text null');
    this.addSql('alter table operation add column lease_until timestamptz null');
  }
}

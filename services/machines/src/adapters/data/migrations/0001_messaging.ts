import { messagingTablesSql } from '@imm/bus';
import { Migration } from '@imm/db';

/** The transactional outbox and the consumers' de-duplication table, as @imm/bus defines them. */
export class Messaging extends Migration {
  override up(): void {
    for (const sql of messagingTablesSql) this.addSql(sql);
  }
}

import { Migration } from '@imm/db';

/**
 * An Idempotency-Key keeps the decision its request came to (accepted with its entry, or refused),
 * no longer the rendered response: a retry is answered from the decision in its own language. Rows
 * written before keep their `response` and are still replayed from it until they expire.
 */
export class KeptDecision extends Migration {
  override up(): void {
    this.addSql('alter table idempotency_key add column decision jsonb null');
    this.addSql('alter table idempotency_key alter column response drop not null');
  }
}

import { OperationResult } from '@imm/contracts';
import { OUTBOX_COLUMNS, outboxValues } from '@imm/bus';
import { type Database, isUniqueViolation, type SqlTransaction, sqlTransaction } from '@imm/db';
import type { CommandDecision } from '../../domain/command-decision';
import type { FinishedCommand } from '../../domain/commands';
import type { HistoryEntry } from '../../domain/history';
import {
  type CommandTransaction,
  type IdempotencyKey,
  KeyTakenError,
  MachineBusyError,
} from '../../domain/operation-store';
import { operationRequestedEvent } from '../events/operation-events';
import { storedDecision } from './kept-decision';

const ONE_PENDING_PER_MACHINE = 'operation_one_pending_per_machine';
const IDEMPOTENCY_KEY_PK = 'idempotency_key_pkey';

/**
 * Advisory lock namespace ("OPS\0") of the per-machine lock; the second key is the machine id. It
 * serializes, per machine, accepting a command with recording a result: a state check never reads
 * a result that commits just after it (two STARTs racing a fast machine would both be accepted).
 */
export const MACHINE_LOCK = 0x4f505300;

const isId = (value: number) => Number.isSafeInteger(value);

/**
 * One statement that writes a new entry, its requested event when it is PENDING, and the decision
 * an Idempotency-Key keeps: data-modifying CTEs commit together or not at all.
 */
function entryStatement(
  entry: HistoryEntry,
  kept: { key: IdempotencyKey; decision: CommandDecision } | undefined,
): [string, unknown[]] {
  const values: unknown[] = [];
  const params = (...items: unknown[]) => items.map((item) => `$${values.push(item)}`).join(', ');
  const writes = [
    `insert into operation (id, request_datetime, command, worker, machine_id, machine_owner_id, result, message,
       endpoint, request_id, created_at, finished_at)
     values (${params(
       entry.id,
       entry.requestDatetime,
       entry.command,
       entry.worker,
       entry.machineId,
       entry.machineOwnerId,
       entry.result,
       entry.message,
       entry.endpoint,
       entry.requestId,
       entry.createdAt,
       entry.finishedAt,
     )})`,
  ];
  if (entry.result === OperationResult.PENDING) {
    writes.push(
      `insert into outbox_message ${OUTBOX_COLUMNS} values (${params(...outboxValues(operationRequestedEvent(entry)))})`,
    );
  }
  if (kept) {
    writes.push(
      `update idempotency_key set decision = ${params(storedDecision(kept.decision))}::jsonb
       where user_id = ${params(kept.key.userId)} and key = ${params(kept.key.key)}`,
    );
  }
  const last = writes.pop() as string;
  return [writes.length > 0 ? `with ${writes.map((sql, i) => `w${i} as (${sql})`).join(', ')} ${last}` : last, values];
}

/**
 * The command transaction on raw node-postgres. Three round trips without a key: the lock, the
 * entry's id and the state check travel with BEGIN; the entry, its event and the kept decision are
 * one statement; then COMMIT. A key adds its reservation before them.
 */
function commandTransactionOf(tx: SqlTransaction): CommandTransaction {
  return {
    async holdKey(key) {
      await tx.query('insert into idempotency_key (user_id, key, fingerprint, created_at) values ($1, $2, $3, $4)', [
        key.userId,
        key.key,
        key.fingerprint,
        new Date(),
      ]);
    },

    async holdMachine(machineId, appliedUpTo) {
      // Written into the statements' text (one round trip takes no parameters): checked integers only.
      if (!isId(machineId) || (appliedUpTo !== null && !isId(appliedUpTo))) {
        throw new Error(`not an id: ${machineId}, ${appliedUpTo}`);
      }
      const [, ids, newestRows] = await tx.batch([
        `select pg_advisory_xact_lock(${MACHINE_LOCK}, ${machineId})`,
        "select nextval('operation_id_seq')::int as id",
        `select command, result from operation
         where machine_id = ${machineId} and result in (${OperationResult.SUCCESS}, ${OperationResult.REMOTEFAILED})
         ${appliedUpTo === null ? '' : `and id > ${appliedUpTo}`}
         order by id desc limit 1`,
      ]);
      const next = ids?.[0] as { id: number } | undefined;
      if (!next) throw new Error('the operation sequence gave no id');
      const newest = newestRows?.[0] as FinishedCommand | undefined;
      return { entryId: next.id, newestUnapplied: newest && { command: newest.command, result: newest.result } };
    },

    async record(entry, kept) {
      await tx.query(...entryStatement(entry, kept));
    },
  };
}

/**
 * Runs the domain's work in one command transaction. The unique indexes' refusals become the
 * domain's: the machine's one PENDING command (MachineBusyError), a key another request holds
 * (KeyTakenError, after that request committed).
 */
export async function withCommandTransaction<T>(
  orm: Database,
  work: (tx: CommandTransaction) => Promise<T>,
): Promise<T> {
  try {
    return await sqlTransaction(orm, (tx) => work(commandTransactionOf(tx)));
  } catch (error) {
    if (isUniqueViolation(error, ONE_PENDING_PER_MACHINE)) throw new MachineBusyError();
    if (isUniqueViolation(error, IDEMPOTENCY_KEY_PK)) throw new KeyTakenError();
    throw error;
  }
}

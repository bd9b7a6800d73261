import { OperationResult, type OperationResultValue } from '@imm/contracts';
import { type Database, type EntityManager, isUniqueViolation } from '@imm/db';
import { runWithRequestId } from '@imm/logging';
import type { Command } from '../domain/commands';
import type { CommandOutcome } from '../domain/drive-command';
import type { HistoryEntry, HistoryFilter } from '../domain/history';
import type { OperationStore, ReplayableResponse, StoredIdempotency } from '../domain/operation-service';
import { recordOperationCompleted, recordOperationRequested } from '../events/operation-events';
import { IdempotencyRow, type OperationRecord, OperationRow } from './entities';

const ONE_PENDING_PER_MACHINE = 'operation_one_pending_per_machine';
const IDEMPOTENCY_KEY_PK = 'idempotency_key_pkey';

function toEntry(row: OperationRecord): HistoryEntry {
  return {
    id: row.id,
    requestDatetime: row.requestDatetime,
    command: row.command as Command,
    worker: row.worker,
    machineId: row.machineId,
    machineOwnerId: row.machineOwnerId,
    result: row.result as OperationResultValue,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt ?? null,
    message: row.message ?? null,
    endpoint: row.endpoint ?? null,
    requestId: row.requestId ?? null,
  };
}

function whereOf(filter: HistoryFilter): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  if (filter.involvedUserId !== undefined) {
    where.$or = [{ worker: filter.involvedUserId }, { machineOwnerId: filter.involvedUserId }];
  }
  if (filter.machineId !== undefined) where.machineId = filter.machineId;
  if (filter.command !== undefined) where.command = filter.command;
  if (filter.result !== undefined) where.result = filter.result;
  if (filter.since || filter.until) {
    where.requestDatetime = {
      ...(filter.since && { $gte: filter.since }),
      ...(filter.until && { $lte: filter.until }),
    };
  }
  return where;
}

/** The rows an UPDATE … RETURNING * gave back, as entries. */
function entriesOf(em: EntityManager, rows: Record<string, unknown>[]): HistoryEntry[] {
  return rows.map((row) => toEntry(em.map(OperationRow, row) as OperationRecord));
}

/** Advisory lock namespace ("OPS\0") of the per-machine lock; the second key is the machine id. */
const MACHINE_LOCK = 0x4f505300;

/**
 * Serializes, per machine, accepting a command with recording a result: a state check never reads
 * a result that commits just after it (two STARTs racing a fast machine would both be accepted).
 */
async function lockMachine(tx: EntityManager, machineId: number): Promise<void> {
  await tx.execute('select pg_advisory_xact_lock(?, ?)', [MACHINE_LOCK, machineId]);
}

async function newestUnapplied(
  em: EntityManager,
  machineId: number,
  afterId: number | null,
): Promise<{ command: Command; result: OperationResultValue } | undefined> {
  const row = await em.findOne(
    OperationRow,
    {
      machineId,
      result: { $in: [OperationResult.SUCCESS, OperationResult.REMOTEFAILED] },
      ...(afterId !== null && { id: { $gt: afterId } }),
    },
    { orderBy: { id: 'desc' } },
  );
  return row ? { command: row.command as Command, result: row.result as OperationResultValue } : undefined;
}

/** The operations schema: history entries, idempotency keys, and the outbox they commit with. */
export function createOperationRepository(orm: Database) {
  const fork = () => orm.em.fork();

  async function findIdempotency(userId: number, key: string): Promise<StoredIdempotency | undefined> {
    const row = await fork().findOne(IdempotencyRow, { userId, key });
    return row ? { fingerprint: row.fingerprint, response: JSON.parse(row.response) as ReplayableResponse } : undefined;
  }

  const store: OperationStore = {
    findIdempotency,

    async recordEntry(machineId, appliedUpTo, decide, claim) {
      try {
        return await fork().transactional(async (tx) => {
          // The key first: a concurrent retry with the same key waits here until this commits, then
          // finds the key taken and replays this response.
          if (claim) {
            await tx.insert(IdempotencyRow, {
              userId: claim.userId,
              key: claim.key,
              fingerprint: claim.fingerprint,
              response: '{}',
              createdAt: new Date(),
            });
          }
          await lockMachine(tx, machineId);
          const draft = decide(await newestUnapplied(tx, machineId, appliedUpTo));
          const createdAt = new Date();
          // A refusal is over the moment it is recorded; an accepted command finishes later.
          const finishedAt = draft.result === OperationResult.PENDING ? null : createdAt;
          const id = (await tx.insert(OperationRow, { ...draft, createdAt, finishedAt })) as number;
          const entry: HistoryEntry = { ...draft, id, createdAt, finishedAt };
          if (entry.result === OperationResult.PENDING) recordOperationRequested(tx, entry);
          if (claim) {
            await tx.nativeUpdate(
              IdempotencyRow,
              { userId: claim.userId, key: claim.key },
              { response: JSON.stringify(claim.respond(entry)) },
            );
          }
          return { kind: 'recorded' as const, entry };
        });
      } catch (error) {
        if (isUniqueViolation(error, ONE_PENDING_PER_MACHINE)) return { kind: 'busy' };
        if (claim && isUniqueViolation(error, IDEMPOTENCY_KEY_PK)) {
          const stored = await findIdempotency(claim.userId, claim.key);
          if (stored) return { kind: 'claimed', stored };
        }
        throw error;
      }
    },

    async findEntry(id) {
      const row = await fork().findOne(OperationRow, { id });
      return row ? toEntry(row) : undefined;
    },

    async recordedOwner(machineId) {
      const row = await fork().findOne(
        OperationRow,
        { machineId },
        { orderBy: { id: 'desc' }, fields: ['machineOwnerId'] },
      );
      return row?.machineOwnerId;
    },

    countEntries(filter) {
      return fork().count(OperationRow, whereOf(filter));
    },

    async listEntries(filter, offset, limit) {
      const rows = await fork().find(OperationRow, whereOf(filter), { orderBy: { id: 'desc' }, offset, limit });
      return rows.map(toEntry);
    },
  };

  return {
    ...store,

    /**
     * Records a command's result, with its completion event, if it is still PENDING: a command
     * driven twice (a worker that died after the machine answered) is recorded once. Undefined when
     * it was finished already.
     */
    async finish(entry: HistoryEntry, outcome: CommandOutcome): Promise<HistoryEntry | undefined> {
      const { id } = entry;
      return fork().transactional(async (tx) => {
        await lockMachine(tx, entry.machineId);
        const rows = await tx.execute(
          'update operation set result = ?, message = ?, finished_at = now() where id = ? and result = ? returning *',
          [outcome.result, outcome.message, id, OperationResult.PENDING],
        );
        const [finished] = entriesOf(tx, rows);
        if (finished) recordOperationCompleted(tx, finished);
        return finished;
      });
    },

    /** Ends every command PENDING for longer than `deadlineMs` as INTERNALFAILED (imported ones aside). */
    async expireOverdue(deadlineMs: number): Promise<HistoryEntry[]> {
      return fork().transactional(async (tx) => {
        const rows = await tx.execute(
          `update operation set result = ?, message = ?, finished_at = now()
           where result = ? and imported_at is null and created_at < now() - make_interval(secs => ?) returning *`,
          [
            OperationResult.INTERNALFAILED,
            `not finished within ${Math.round(deadlineMs / 1000)} s of being accepted`,
            OperationResult.PENDING,
            deadlineMs / 1000,
          ],
        );
        const entries = entriesOf(tx, rows);
        for (const entry of entries) {
          // The event carries the request id of the request that asked for the command.
          if (entry.requestId) runWithRequestId(entry.requestId, () => recordOperationCompleted(tx, entry));
          else recordOperationCompleted(tx, entry);
        }
        return entries;
      });
    },

    /** PENDING commands, oldest first (imported entries are history, not commands). */
    async pendingEntries(limit: number): Promise<HistoryEntry[]> {
      const rows = await fork().find(
        OperationRow,
        { result: OperationResult.PENDING, importedAt: null },
        { orderBy: { id: 'asc' }, limit },
      );
      return rows.map(toEntry);
    },

    /** Forgets idempotency keys older than `ttlMs`. */
    async forgetIdempotencyKeys(ttlMs: number): Promise<number> {
      return fork().nativeDelete(IdempotencyRow, { createdAt: { $lt: new Date(Date.now() - ttlMs) } });
    },
  };
}

export type OperationRepository = ReturnType<typeof createOperationRepository>;

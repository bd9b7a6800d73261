import { OperationResult, type OperationResultValue } from '@imm/contracts';
import { OUTBOX_COLUMNS, outboxValues } from '@imm/bus';
import { type Database, type EntityManager, sqlQuery, timestampOf } from '@imm/db';
import { runWithRequestId } from '@imm/logging';
import type { Command } from '../../domain/commands';
import type { CommandOutcome } from '../../domain/drive-command';
import type { HistoryEntry, HistoryFilter } from '../../domain/history';
import type { OperationStore } from '../../domain/operation-store';
import { operationCompletedEvent, recordOperationCompleted } from '../events/operation-events';
import { MACHINE_LOCK, withCommandTransaction } from './command-transaction';
import { IdempotencyRow, type OperationRecord, OperationRow } from './entities';
import { decisionOfRow } from './kept-decision';

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

/** A row of `operation` as node-postgres returns it (MikroORM's parsers leave timestamps as text). */
interface OperationSqlRow {
  id: number;
  request_datetime: string | Date;
  command: string;
  worker: number;
  machine_id: number;
  machine_owner_id: number;
  result: number;
  message: string | null;
  endpoint: string | null;
  request_id: string | null;
  created_at: string | Date;
  finished_at: string | Date | null;
  sent_at: string | Date | null;
}

function entryOf(row: OperationSqlRow): HistoryEntry {
  return {
    id: row.id,
    requestDatetime: timestampOf(row.request_datetime),
    command: row.command as Command,
    worker: row.worker,
    machineId: row.machine_id,
    machineOwnerId: row.machine_owner_id,
    result: row.result as OperationResultValue,
    createdAt: timestampOf(row.created_at),
    finishedAt: row.finished_at === null ? null : timestampOf(row.finished_at),
    message: row.message,
    endpoint: row.endpoint,
    requestId: row.request_id,
  };
}

/** The filter's conditions other than the involved user, with `$n` placeholders appended to `params`. */
function conditionsOf(filter: HistoryFilter, params: unknown[]): string[] {
  const param = (value: unknown) => `$${params.push(value)}`;
  const conditions: string[] = [];
  if (filter.machineId !== undefined) conditions.push(`machine_id = ${param(filter.machineId)}`);
  if (filter.command !== undefined) conditions.push(`command = ${param(filter.command)}`);
  if (filter.result !== undefined) conditions.push(`result = ${param(filter.result)}`);
  if (filter.since) conditions.push(`request_datetime >= ${param(filter.since)}`);
  if (filter.until) conditions.push(`request_datetime <= ${param(filter.until)}`);
  return conditions;
}

const whereClause = (conditions: string[]) => (conditions.length > 0 ? `where ${conditions.join(' and ')}` : '');

/**
 * The entries of a filter, newest first. "Asked for or owned by" is two index scans, each cut at
 * the page's end, merged: an OR over two indexes would read and sort every entry of the user.
 */
function listStatement(filter: HistoryFilter, offset: number, limit: number): [string, unknown[]] {
  const params: unknown[] = [];
  const conditions = conditionsOf(filter, params);
  if (filter.involvedUserId === undefined) {
    return [
      `select * from operation ${whereClause(conditions)} order by id desc limit $${params.push(limit)} offset $${params.push(offset)}`,
      params,
    ];
  }
  const user = `$${params.push(filter.involvedUserId)}`;
  const end = `$${params.push(offset + limit)}`;
  const side = (column: string) =>
    `(select * from operation ${whereClause([...conditions, `${column} = ${user}`])} order by id desc limit ${end})`;
  return [
    `select * from (${side('worker')} union ${side('machine_owner_id')}) involved
     order by id desc limit $${params.push(limit)} offset $${params.push(offset)}`,
    params,
  ];
}

function countStatement(filter: HistoryFilter): [string, unknown[]] {
  const params: unknown[] = [];
  const conditions = conditionsOf(filter, params);
  // The unfiltered lists read the counters that the insert trigger keeps (migration 0002).
  if (conditions.length === 0 && filter.involvedUserId !== undefined) {
    return [
      `select coalesce(sum(case kind when 3 then -n else n end), 0)::bigint as n
       from user_history_count where user_id = $1`,
      [filter.involvedUserId],
    ];
  }
  if (conditions.length === 1 && filter.machineId !== undefined && filter.involvedUserId === undefined) {
    return [
      'select coalesce(sum(n), 0)::bigint as n from machine_history_count where machine_id = $1',
      [filter.machineId],
    ];
  }
  if (filter.involvedUserId !== undefined) {
    const user = `$${params.push(filter.involvedUserId)}`;
    conditions.push(`(worker = ${user} or machine_owner_id = ${user})`);
  }
  return [`select count(*)::int as n from operation ${whereClause(conditions)}`, params];
}

/** The rows an UPDATE … RETURNING * gave back, as entries. */
function entriesOf(em: EntityManager, rows: Record<string, unknown>[]): HistoryEntry[] {
  return rows.map((row) => toEntry(em.map(OperationRow, row) as OperationRecord));
}

/** A worker's lease on an entry it is about to drive. */
export interface DriveClaim {
  entry: HistoryEntry;
  /** A worker before this one may have sent the command (and is gone): it must not be sent again. */
  sentBefore: boolean;
  /** The first attempt's mark, when the claim was asked to make it and found no earlier send. */
  firstMark?: 'sent' | 'overdue';
}

/** The operations schema: history entries, idempotency keys, and the outbox they commit with. */
export function createOperationRepository(orm: Database) {
  const fork = () => orm.em.fork();

  const store: OperationStore = {
    async keptDecision(userId, key) {
      const [row] = await sqlQuery<{ fingerprint: string; decision: unknown; response: string | null }>(
        orm,
        'select fingerprint, decision, response from idempotency_key where user_id = $1 and key = $2',
        [userId, key],
        'kept_decision',
      );
      return row ? { fingerprint: row.fingerprint, decision: decisionOfRow(row) } : undefined;
    },

    withCommandTransaction: (work) => withCommandTransaction(orm, work),

    async findEntry(id) {
      const [row] = await sqlQuery<OperationSqlRow>(orm, 'select * from operation where id = $1', [id], 'entry_by_id');
      return row ? entryOf(row) : undefined;
    },

    async recordedOwner(machineId) {
      const [row] = await sqlQuery<{ machine_owner_id: number }>(
        orm,
        'select machine_owner_id from operation where machine_id = $1 order by id desc limit 1',
        [machineId],
        'entry_recorded_owner',
      );
      return row?.machine_owner_id;
    },

    async countEntries(filter) {
      const [row] = await sqlQuery<{ n: number | string }>(orm, ...countStatement(filter));
      return Number(row?.n ?? 0);
    },

    async listEntries(filter, offset, limit) {
      return (await sqlQuery<OperationSqlRow>(orm, ...listStatement(filter, offset, limit))).map(entryOf);
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
      if (!Number.isSafeInteger(entry.machineId)) throw new Error(`not an id: ${entry.machineId}`);
      // The finished entry and its completed event are known before the statement, so the lock,
      // the result and the event are one statement, committed on its own: one round trip. The
      // machine's lock is taken before any row is touched (a one-time filter on the update) and is
      // held to the statement's commit, as in the transaction of an accept.
      const finished: HistoryEntry = {
        ...entry,
        result: outcome.result,
        message: outcome.message,
        finishedAt: new Date(),
      };
      const rows = await sqlQuery<{ id: number }>(
        orm,
        `with machine_lock as materialized (select pg_advisory_xact_lock($1::int, $2::int)),
         done as (
           update operation set result = $3, message = $4, finished_at = $5
           where id = $6 and result = $7 and exists (select from machine_lock) returning id
         ), event as (
           insert into outbox_message ${OUTBOX_COLUMNS} select $8::uuid, $9, $10::jsonb, $11::timestamptz from done
         )
         select id from done`,
        [
          MACHINE_LOCK,
          entry.machineId,
          outcome.result,
          outcome.message,
          finished.finishedAt,
          entry.id,
          OperationResult.PENDING,
          ...outboxValues(operationCompletedEvent(finished)),
        ],
        'entry_finish',
      );
      return rows.length > 0 ? finished : undefined;
    },

    /**
     * Takes the lease of a PENDING entry for `holder` for `leaseMs`, unless another worker's lease
     * is still running (it may be talking to the machine). The entry and whether a send may have
     * happened before (by a worker that is gone); undefined when finished or leased by another.
     *
     * With `firstAttempt`, the same statement also marks the first attempt as `markSent` would
     * (unless an earlier send is marked: that mark stays, and no new one is made): one commit
     * instead of two before the machine is driven, and the mark is still durable before it.
     */
    async claim(
      id: number,
      holder: string,
      leaseMs: number,
      firstAttempt?: { deadlineMs: number },
    ): Promise<DriveClaim | undefined> {
      // `prior` locks the row and reads its mark as it is now (after any concurrent change), which
      // RETURNING cannot give: it returns the values written.
      const [row] = await sqlQuery<OperationSqlRow & { sent_before: unknown }>(
        orm,
        `with prior as (
           select id, sent_at from operation
           where id = $1 and result = $2 and imported_at is null
             and (lease_until is null or lease_until < now() or lease_holder = $3)
           for update
         )
         update operation o
         set lease_holder = $3, lease_until = now() + make_interval(secs => $4),
             sent_at = case
               when prior.sent_at is not null then prior.sent_at
               when o.created_at >= now() - make_interval(secs => $5) then now()
             end
         from prior where o.id = prior.id
         returning o.*, prior.sent_at as sent_before`,
        [id, OperationResult.PENDING, holder, leaseMs / 1000, firstAttempt ? firstAttempt.deadlineMs / 1000 : null],
        'entry_claim',
      );
      if (!row) return undefined;
      const sentBefore = row.sent_before !== null;
      const claim: DriveClaim = { entry: entryOf(row), sentBefore };
      if (firstAttempt && !sentBefore) claim.firstMark = row.sent_at === null ? 'overdue' : 'sent';
      return claim;
    },

    /** Extends the lease while the holder drives; false when it is no longer theirs (or finished). */
    async renewLease(id: number, holder: string, leaseMs: number): Promise<boolean> {
      const rows = await fork().execute(
        `update operation set lease_until = now() + make_interval(secs => ?)
         where id = ? and lease_holder = ? and result = ? returning id`,
        [leaseMs / 1000, id, holder, OperationResult.PENDING],
      );
      return rows.length > 0;
    },

    /**
     * Marks the command as possibly sent, right before an attempt: committed first, so a worker
     * that dies during the attempt leaves the mark and nobody sends the command again. `overdue`
     * when the deadline for starting has passed (nothing is sent then), `lost` when the lease is gone.
     */
    async markSent(id: number, holder: string, deadlineMs: number): Promise<'sent' | 'overdue' | 'lost'> {
      const rows = await fork().execute(
        `update operation
         set sent_at = case when created_at >= now() - make_interval(secs => ?) then now() else null end
         where id = ? and lease_holder = ? and result = ? returning sent_at`,
        [deadlineMs / 1000, id, holder, OperationResult.PENDING],
      );
      const row = rows[0] as { sent_at: unknown } | undefined;
      if (!row) return 'lost';
      return row.sent_at === null ? 'overdue' : 'sent';
    },

    /** The attempt failed before anything reached the machine: the command was not sent after all. */
    async clearSent(id: number, holder: string): Promise<void> {
      await fork().execute('update operation set sent_at = null where id = ? and lease_holder = ? and result = ?', [
        id,
        holder,
        OperationResult.PENDING,
      ]);
    },

    /** Gives the lease up (the command goes back to the queue unsent, or was handed over). */
    async releaseLease(id: number, holder: string): Promise<void> {
      await fork().execute(
        'update operation set lease_holder = null, lease_until = null where id = ? and lease_holder = ?',
        [id, holder],
      );
    },

    /**
     * Ends as INTERNALFAILED every command still PENDING `deadlineMs` after it was accepted that no
     * worker has started, with `message` as the reason: never one that may have been sent, nor one a
     * worker holds (nor an imported one).
     */
    async expireOverdue(deadlineMs: number, message: string): Promise<HistoryEntry[]> {
      return fork().transactional(async (tx) => {
        const rows = await tx.execute(
          `update operation set result = ?, message = ?, finished_at = now()
           where result = ? and imported_at is null and created_at < now() - make_interval(secs => ?)
             and sent_at is null and (lease_until is null or lease_until < now())
           returning *`,
          [OperationResult.INTERNALFAILED, message, OperationResult.PENDING, deadlineMs / 1000],
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

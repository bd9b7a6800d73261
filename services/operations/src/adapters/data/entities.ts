import { defineEntity, type InferEntity } from '@imm/db';

/** This service's Postgres schema. */
export const SCHEMA = 'operations';

/** One history entry: a command someone asked for, and what came of it. */
export const OperationRow = defineEntity({
  name: 'Operation',
  tableName: 'operation',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    requestDatetime: p.datetime().columnType('timestamptz'),
    command: p.text(),
    /** The user who asked. */
    worker: p.integer(),
    machineId: p.integer(),
    /** The machine's owner when the command was asked for; history survives the machine. */
    machineOwnerId: p.integer(),
    result: p.smallint(),
    message: p.text().nullable(),
    /** The machine's endpoint when the command was accepted: the worker drives exactly this one. */
    endpoint: p.text().nullable(),
    /** The request that asked, so the worker's log lines carry its id. */
    requestId: p.text().nullable(),
    createdAt: p.datetime().columnType('timestamptz'),
    finishedAt: p.datetime().columnType('timestamptz').nullable(),
    /** Set on entries imported from the Django service: history, never a command to drive. */
    importedAt: p.datetime().columnType('timestamptz').nullable(),
    /** Set while an attempt may have reached the machine: from then on the command is never sent again. */
    sentAt: p.datetime().columnType('timestamptz').nullable(),
    /** The worker run driving the command, and until when; renewed while it drives. */
    leaseHolder: p.text().nullable(),
    leaseUntil: p.datetime().columnType('timestamptz').nullable(),
  }),
});
export type OperationRecord = InferEntity<typeof OperationRow>;

/** What a POST carrying an `Idempotency-Key` came to, replayed for a retry with that key. */
export const IdempotencyRow = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_key',
  properties: (p) => ({
    userId: p.integer().primary(),
    key: p.text().primary(),
    /** What the request asked for; a retry asking for something else is a conflict. */
    fingerprint: p.text(),
    /** The decision (see kept-decision.ts); null only on rows written before migration 0006. */
    decision: p.json().nullable(),
    /** Rows written before migration 0006: the first response as JSON text, replayed from it. */
    response: p.text().nullable(),
    createdAt: p.datetime().columnType('timestamptz'),
  }),
});

export const entities = [OperationRow, IdempotencyRow];

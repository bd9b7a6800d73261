import { type Command, OperationResult } from '@imm/contracts';
import { type AppError, ConflictError, PermissionDeniedError } from '@imm/errors';
import type { HistoryEntry } from './history';

/** An entry as the one who asked for it is shown it: no endpoint snapshot (it may hold credentials), no request id. */
export type DecidedEntry = Omit<HistoryEntry, 'endpoint' | 'requestId'>;

export type RefusedResult = typeof OperationResult.PERMISSIONDENIED | typeof OperationResult.INVALIDCOMMAND;

export interface AcceptedDecision {
  kind: 'accepted';
  /** The PENDING entry, as it was when the command was accepted. */
  entry: DecidedEntry;
}

export interface RefusedDecision {
  kind: 'refused';
  result: RefusedResult;
  command: Command;
  machineId: number;
  /** The refusal's audit entry; null for a refusal kept by an older version, which did not keep it. */
  entryId: number | null;
}

/**
 * What a request for a command came to. This, not a response, is what an Idempotency-Key keeps:
 * a retry gets the same decision, and the edge answers it in the retry's own language.
 */
export type CommandDecision = AcceptedDecision | RefusedDecision;

export function decisionOf(entry: HistoryEntry): CommandDecision {
  if (entry.result === OperationResult.PERMISSIONDENIED || entry.result === OperationResult.INVALIDCOMMAND) {
    return {
      kind: 'refused',
      result: entry.result,
      command: entry.command,
      machineId: entry.machineId,
      entryId: entry.id,
    };
  }
  // Field by field: the endpoint and the request id never reach a kept decision.
  return {
    kind: 'accepted',
    entry: {
      id: entry.id,
      requestDatetime: entry.requestDatetime,
      command: entry.command,
      worker: entry.worker,
      machineId: entry.machineId,
      machineOwnerId: entry.machineOwnerId,
      result: entry.result,
      createdAt: entry.createdAt,
      finishedAt: entry.finishedAt,
      message: entry.message,
    },
  };
}

/** The error a refusal is answered with: the caller may not operate the machine, or its state rules the command out. */
export function refusalOf(decision: RefusedDecision): AppError {
  return decision.result === OperationResult.PERMISSIONDENIED ? new PermissionDeniedError() : new ConflictError();
}

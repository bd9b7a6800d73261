import { createEnvelope, recordEvent } from '@imm/bus';
import type { EventData, EventEnvelope } from '@imm/contracts';
import type { EntityManager } from '@imm/db';
import type { HistoryEntry } from '../../domain/history';

/**
 * What this service publishes, through the outbox of the transaction that made the change:
 * `operations.operation.requested` when a command is accepted (PENDING) and
 * `operations.operation.completed` when it ends (SUCCESS, REMOTEFAILED, INTERNALFAILED). Refused
 * commands (PERMISSIONDENIED, INVALIDCOMMAND) are audit entries only: nothing happened to a machine.
 */
function requestedData(entry: HistoryEntry): EventData<'operations.operation.requested'> {
  return {
    operation_id: entry.id,
    machine_id: entry.machineId,
    machine_owner_id: entry.machineOwnerId,
    command: entry.command,
    worker: entry.worker,
    request_datetime: entry.requestDatetime.toISOString(),
  };
}

/** The requested event of an accepted entry, for the repository to write with the entry itself. */
export function operationRequestedEvent(entry: HistoryEntry): EventEnvelope {
  return createEnvelope('operations.operation.requested', requestedData(entry));
}

function completedData(entry: HistoryEntry): EventData<'operations.operation.completed'> {
  if (!entry.finishedAt) throw new Error(`operation ${entry.id} is not finished`);
  return {
    ...requestedData(entry),
    result: entry.result,
    message: entry.message,
    finished_at: entry.finishedAt.toISOString(),
  };
}

export function recordOperationCompleted(em: EntityManager, entry: HistoryEntry): void {
  recordEvent(em, 'operations.operation.completed', completedData(entry));
}

/** The completed event of a finished entry, for the repository to write with the result itself. */
export function operationCompletedEvent(entry: HistoryEntry): EventEnvelope {
  return createEnvelope('operations.operation.completed', completedData(entry));
}

/** What an OPC UA machine reported (the status monitor); the machines service applies it. */
export function recordStatusObserved(em: EntityManager, data: EventData<'operations.machine.status_observed'>): void {
  recordEvent(em, 'operations.machine.status_observed', data);
}

import type { CommandDecision } from './command-decision';
import type { FinishedCommand } from './commands';
import type { HistoryEntry, HistoryFilter } from './history';

/** An Idempotency-Key of one user, with what the request that carries it asks for. */
export interface IdempotencyKey {
  userId: number;
  key: string;
  /** Machine and command: a retry asking for anything else is a client bug. */
  fingerprint: string;
}

/** The decision an Idempotency-Key keeps, with what its first request asked for. */
export interface KeptDecision {
  fingerprint: string;
  decision: CommandDecision;
}

/** What the store reads for a decision, while results for the machine are held back. */
export interface MachineHeld {
  /** The id the new entry gets. */
  entryId: number;
  /** The newest SUCCESS/REMOTEFAILED command of the machine above the applied id (all when null). */
  newestUnapplied: FinishedCommand | undefined;
}

/**
 * One transaction that accepts or refuses a command. Each call is one round trip, so the path
 * costs as many as the domain makes calls (plus COMMIT).
 */
export interface CommandTransaction {
  /**
   * Reserves the key for this request, first: a concurrent request with the same key waits here
   * until this transaction ends, then fails with KeyTakenError and replays what this one kept.
   */
  holdKey(key: IdempotencyKey): Promise<void>;
  /**
   * Holds back results for the machine until the transaction ends (recording a result takes the
   * same lock), so the state check and the insert are one step; and reads what the decision needs.
   */
  holdMachine(machineId: number, appliedUpTo: number | null): Promise<MachineHeld>;
  /**
   * Writes the entry, its `operations.operation.requested` event when it is PENDING, and the
   * decision the key keeps, together. MachineBusyError when the machine has a PENDING command.
   */
  record(entry: HistoryEntry, kept?: { key: IdempotencyKey; decision: CommandDecision }): Promise<void>;
}

/** The machine has a PENDING command already: one at a time. */
export class MachineBusyError extends Error {
  constructor() {
    super('the machine has a pending command');
    this.name = 'MachineBusyError';
  }
}

/** Another request with the same Idempotency-Key committed first. */
export class KeyTakenError extends Error {
  constructor() {
    super('the idempotency key is taken');
    this.name = 'KeyTakenError';
  }
}

export interface OperationStore {
  keptDecision(userId: number, key: string): Promise<KeptDecision | undefined>;
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
  withCommandTransaction<T>(work: (tx: CommandTransaction) => Promise<T>): Promise<T>;
  findEntry(id: number): Promise<HistoryEntry | undefined>;
  /** The owner recorded by the machine's newest entry: who owned a machine that is gone. */
  recordedOwner(machineId: number): Promise<number | undefined>;
  countEntries(filter: HistoryFilter): Promise<number>;
  listEntries(filter: HistoryFilter, offset: number, limit: number): Promise<HistoryEntry[]>;
}

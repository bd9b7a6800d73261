import type { OperationResultValue } from '@imm/contracts';
import type { Command } from './commands';

/** A command someone asked for and what came of it. */
export interface HistoryEntry {
  id: number;
  requestDatetime: Date;
  command: Command;
  /** The user who asked. */
  worker: number;
  machineId: number;
  machineOwnerId: number;
  result: OperationResultValue;
  createdAt: Date;
  finishedAt: Date | null;
  message: string | null;
  /** The machine's endpoint when the command was accepted. */
  endpoint: string | null;
  requestId: string | null;
}

export type NewEntry = Omit<HistoryEntry, 'id' | 'createdAt' | 'finishedAt'>;

export interface HistoryFilter {
  /** Entries this user asked for or whose machine they owned. */
  involvedUserId?: number;
  machineId?: number;
  command?: Command;
  result?: OperationResultValue;
  /** request_datetime ≥ since */
  since?: Date;
  /** request_datetime ≤ until */
  until?: Date;
}

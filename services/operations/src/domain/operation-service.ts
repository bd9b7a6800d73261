import {
  OperationResult,
  type OperationResultValue,
  offsetOf,
  type PageOf,
  type PageRequest,
  pageOf,
  resolvePage,
} from '@imm/contracts';
import { ConflictError, NotFoundError, PermissionDeniedError } from '@imm/errors';
import {
  type Caller,
  type Command,
  decideRequest,
  type MachineView,
  mayReadEntry,
  mayReadMachineHistory,
} from './commands';
import type { HistoryEntry, HistoryFilter, NewEntry } from './history';

/** The machines service's current view of a machine (request/reply); undefined when there is none. */
export interface MachineDirectory {
  find(machineId: number): Promise<MachineView | undefined>;
}

/** A response exactly as it was first sent, for an Idempotency-Key retry. */
export interface ReplayableResponse {
  status: number;
  body: unknown;
  location?: string;
}

export interface StoredIdempotency {
  fingerprint: string;
  response: ReplayableResponse;
}

/** Reserves an Idempotency-Key for one request, in the transaction that records its entry. */
export interface IdempotencyClaim {
  userId: number;
  key: string;
  fingerprint: string;
  /** The response the entry gets; stored with the key. */
  respond: (entry: HistoryEntry) => ReplayableResponse;
}

export interface FinishedCommand {
  command: Command;
  result: OperationResultValue;
}

export interface FinishedCommand {
  command: Command;
  result: OperationResultValue;
}

export type RecordResult =
  | { kind: 'recorded'; entry: HistoryEntry }
  /** Another request with the same key committed first. */
  | { kind: 'claimed'; stored: StoredIdempotency }
  /** The machine has a PENDING command already. */
  | { kind: 'busy' };

export interface OperationStore {
  findIdempotency(userId: number, key: string): Promise<StoredIdempotency | undefined>;
  /**
   * Records an entry for the machine (with its `operations.operation.requested` event when it is
   * PENDING) and the claim's response, in one transaction. `decide` makes the entry while results
   * for the machine are held back, from the newest SUCCESS/REMOTEFAILED command above `appliedUpTo`
   * (all when null), so the state check and the insert are one step.
   */
  recordEntry(
    machineId: number,
    appliedUpTo: number | null,
    decide: (newestUnapplied: FinishedCommand | undefined) => NewEntry,
    claim?: IdempotencyClaim,
  ): Promise<RecordResult>;
  findEntry(id: number): Promise<HistoryEntry | undefined>;
  /** The owner recorded by the machine's newest entry: who owned a machine that is gone. */
  recordedOwner(machineId: number): Promise<number | undefined>;
  countEntries(filter: HistoryFilter): Promise<number>;
  listEntries(filter: HistoryFilter, offset: number, limit: number): Promise<HistoryEntry[]>;
}

/** Hands an accepted command to the workers. Never throws: the sweeper queues what this could not. */
export interface JobSubmitter {
  submit(entry: HistoryEntry): Promise<void>;
}

export interface OperationRequest {
  caller: Caller;
  machineId: number;
  command: Command;
  requestDatetime: Date;
  requestId?: string;
  idempotency?: { key: string; respond: IdempotencyClaim['respond'] };
}

export type OperationOutcome =
  | { kind: 'accepted'; entry: HistoryEntry }
  | { kind: 'refused'; entry: HistoryEntry }
  | { kind: 'replay'; response: ReplayableResponse };

export interface OperationServiceDeps {
  store: OperationStore;
  machines: MachineDirectory;
  jobs: JobSubmitter;
  /** Called after a change with events committed, so they are published now rather than at the next poll. */
  eventsRecorded?: () => void;
}

/** The operations use cases: asking for a command, and reading what came of them. */
export function createOperationService(deps: OperationServiceDeps) {
  const { store, machines, jobs } = deps;

  function replay(stored: StoredIdempotency, claim: IdempotencyClaim): OperationOutcome {
    // The same key for a different request is a client bug; answering the first response would hide it.
    if (stored.fingerprint !== claim.fingerprint) throw new ConflictError();
    return { kind: 'replay', response: stored.response };
  }

  async function record(
    machine: MachineView,
    decide: (newestUnapplied: FinishedCommand | undefined) => NewEntry,
    claim: IdempotencyClaim | undefined,
  ): Promise<OperationOutcome> {
    const recorded = await store.recordEntry(machine.id, machine.last_operation_id, decide, claim);
    if (recorded.kind === 'busy') throw new ConflictError();
    if (recorded.kind === 'claimed') return replay(recorded.stored, claim as IdempotencyClaim);
    if (recorded.entry.result !== OperationResult.PENDING) return { kind: 'refused', entry: recorded.entry };
    deps.eventsRecorded?.();
    // Committed first: if Redis cannot take the job now, the sweeper will.
    await jobs.submit(recorded.entry);
    return { kind: 'accepted', entry: recorded.entry };
  }

  /** The owner of a machine, or of a deleted one as its history recorded; 404 when neither is known. */
  async function ownerOf(machineId: number): Promise<number> {
    const machine = await machines.find(machineId);
    const owner = machine ? machine.owner_id : await store.recordedOwner(machineId);
    if (owner === undefined) throw new NotFoundError();
    return owner;
  }

  async function page(filter: HistoryFilter, request: PageRequest): Promise<PageOf<HistoryEntry>> {
    const count = await store.countEntries(filter);
    const number = resolvePage(request, count);
    const items = await store.listEntries(filter, offsetOf(number, request.pageSize), request.pageSize);
    return pageOf(items, count, number, request.pageSize);
  }

  return {
    /**
     * Asks for a command. A caller who may not operate the machine, or a command the machine's state
     * rules out, is refused with an audit entry; otherwise the command is recorded PENDING and queued.
     */
    async request(input: OperationRequest): Promise<OperationOutcome> {
      const { caller, machineId, command } = input;
      const claim: IdempotencyClaim | undefined = input.idempotency && {
        userId: caller.id,
        key: input.idempotency.key,
        fingerprint: `${machineId}:${command}`,
        respond: input.idempotency.respond,
      };
      if (claim) {
        const stored = await store.findIdempotency(claim.userId, claim.key);
        if (stored) return replay(stored, claim);
      }
      const machine = await machines.find(machineId);
      if (!machine) throw new NotFoundError();
      const entry = (newestUnapplied: FinishedCommand | undefined): NewEntry => ({
        requestDatetime: input.requestDatetime,
        command,
        worker: caller.id,
        machineId,
        machineOwnerId: machine.owner_id,
        ...decideRequest(caller, machine, command, newestUnapplied),
        endpoint: machine.endpoint,
        requestId: input.requestId ?? null,
      });
      return record(machine, entry, claim);
    },

    /** Entries the caller asked for or whose machine they owned, newest first. */
    async listOwnHistory(caller: Caller, filter: HistoryFilter, request: PageRequest): Promise<PageOf<HistoryEntry>> {
      return page({ ...filter, involvedUserId: caller.id }, request);
    },

    /** Every entry of one machine, newest first: for its owner and superusers. */
    async listMachineHistory(
      caller: Caller,
      machineId: number,
      filter: HistoryFilter,
      request: PageRequest,
    ): Promise<PageOf<HistoryEntry>> {
      const owner = await ownerOf(machineId);
      if (!mayReadMachineHistory(caller, owner)) throw new PermissionDeniedError();
      return page({ ...filter, machineId }, request);
    },

    /** One entry of a machine: for the machine's owner, superusers, and whoever the entry involves. */
    async getMachineEntry(caller: Caller, machineId: number, entryId: number): Promise<HistoryEntry> {
      const owner = await ownerOf(machineId);
      const entry = await store.findEntry(entryId);
      if (!entry || entry.machineId !== machineId) throw new NotFoundError();
      if (!mayReadEntry(caller, owner, entry)) throw new PermissionDeniedError();
      return entry;
    },
  };
}

export type OperationService = ReturnType<typeof createOperationService>;

import { OperationResult, offsetOf, type PageOf, type PageRequest, pageOf, resolvePage } from '@imm/contracts';
import { ConflictError, NotFoundError, PermissionDeniedError } from '@imm/errors';
import { type CommandDecision, decisionOf } from './command-decision';
import {
  type Caller,
  type Command,
  decideRequest,
  entryInvolves,
  type MachineView,
  mayReadEntry,
  mayReadMachineHistory,
} from './commands';
import type { HistoryEntry, HistoryFilter } from './history';
import {
  type IdempotencyKey,
  type KeptDecision,
  KeyTakenError,
  MachineBusyError,
  type OperationStore,
} from './operation-store';

/** The machines service's current view of a machine (request/reply); undefined when there is none. */
export interface MachineDirectory {
  find(machineId: number): Promise<MachineView | undefined>;
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
  /** The request's Idempotency-Key: a retry with it gets the first request's decision. */
  idempotencyKey?: string;
}

export interface OperationOutcome {
  decision: CommandDecision;
  /** The decision of an earlier request with the same Idempotency-Key: this one recorded nothing. */
  replayed: boolean;
}

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

  function replay(kept: KeptDecision, key: IdempotencyKey): OperationOutcome {
    // The same key for a different request is a client bug; answering the first decision would hide it.
    if (kept.fingerprint !== key.fingerprint) throw new ConflictError();
    return { decision: kept.decision, replayed: true };
  }

  /**
   * Decides and records, in one transaction: the key first (a concurrent retry waits for it), then
   * the machine's results held back while the state is checked, then the entry with what the key keeps.
   */
  async function record(
    input: OperationRequest,
    machine: MachineView,
    key: IdempotencyKey | undefined,
  ): Promise<HistoryEntry> {
    return store.withCommandTransaction(async (tx) => {
      if (key) await tx.holdKey(key);
      const held = await tx.holdMachine(machine.id, machine.last_operation_id);
      const decided = decideRequest(input.caller, machine, input.command, held.newestUnapplied);
      const createdAt = new Date();
      const entry: HistoryEntry = {
        id: held.entryId,
        requestDatetime: input.requestDatetime,
        command: input.command,
        worker: input.caller.id,
        machineId: input.machineId,
        machineOwnerId: machine.owner_id,
        ...decided,
        endpoint: machine.endpoint,
        requestId: input.requestId ?? null,
        createdAt,
        // A refusal is over the moment it is recorded; an accepted command finishes later.
        finishedAt: decided.result === OperationResult.PENDING ? null : createdAt,
      };
      await tx.record(entry, key && { key, decision: decisionOf(entry) });
      return entry;
    });
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
      const key: IdempotencyKey | undefined =
        input.idempotencyKey === undefined
          ? undefined
          : { userId: caller.id, key: input.idempotencyKey, fingerprint: `${machineId}:${command}` };
      if (key) {
        const kept = await store.keptDecision(key.userId, key.key);
        if (kept) return replay(kept, key);
      }
      const machine = await machines.find(machineId);
      if (!machine) throw new NotFoundError();
      let entry: HistoryEntry;
      try {
        entry = await record(input, machine, key);
      } catch (error) {
        if (error instanceof MachineBusyError) throw new ConflictError();
        if (key && error instanceof KeyTakenError) {
          const kept = await store.keptDecision(key.userId, key.key);
          if (kept) return replay(kept, key);
        }
        throw error;
      }
      if (entry.result === OperationResult.PENDING) {
        deps.eventsRecorded?.();
        // Committed first: if Redis cannot take the job now, the sweeper will.
        await jobs.submit(entry);
      }
      return { decision: decisionOf(entry), replayed: false };
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
      const entry = await store.findEntry(entryId);
      // Whoever the entry involves may read it whoever owns the machine now: no need to ask (a
      // client polling its own command takes this way). The entry's machine is known then.
      if (entry?.machineId === machineId && entryInvolves(caller, entry)) return entry;
      // Otherwise the current owner decides, and an unknown machine is a 404 before anything else.
      const owner = await ownerOf(machineId);
      if (!entry || entry.machineId !== machineId) throw new NotFoundError();
      if (!mayReadEntry(caller, owner, entry)) throw new PermissionDeniedError();
      return entry;
    },
  };
}

export type OperationService = ReturnType<typeof createOperationService>;

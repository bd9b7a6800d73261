import { type Command, type OperationResultValue, offsetOf, type PageOf, pageOf, resolvePage } from '@imm/contracts';
import { NotFoundError, PermissionDeniedError } from '@imm/errors';
import type { ListRequest, MachineFilter, Ordering } from './listing';
import {
  type Caller,
  type Machine,
  type MachineChanges,
  type MachineEvent,
  mayWrite,
  type NewMachine,
  type Observation,
  type ObservationOutcome,
  type OperationOutcome,
  ownerOfNewMachine,
  planObservedStatus,
  planOperationResult,
  planUpdate,
} from './machine';

/** A consumed event, handled once per consumer (by its id). */
export interface Delivery {
  consumer: string;
  eventId: string;
}

/** One transaction: each write commits with the events it publishes, or neither does. */
export interface MachineTransaction {
  /** The machine, locked until the transaction ends; undefined when there is none. */
  lockMachine(id: number): Promise<Machine | undefined>;
  /**
   * Marks `delivery` as handled by its consumer and locks the machine, together. 'duplicate' when
   * the consumer handled that event before: there is nothing to do then.
   */
  lockForDelivery(delivery: Delivery, machineId: number): Promise<Machine | undefined | 'duplicate'>;
  /** Inserts the machine with the events `eventsOf` gives for it once it has its id. */
  insertMachine(machine: Omit<Machine, 'id'>, eventsOf: (inserted: Machine) => MachineEvent[]): Promise<Machine>;
  /** Events are published after (and only if) the transaction commits. */
  saveMachine(machine: Machine, events: MachineEvent[]): Promise<void>;
  deleteMachine(id: number, events: MachineEvent[]): Promise<void>;
}

export interface MachineStore {
  transaction<T>(work: (tx: MachineTransaction) => Promise<T>): Promise<T>;
  findMachine(id: number): Promise<Machine | undefined>;
  countMachines(filter: MachineFilter): Promise<number>;
  listMachines(filter: MachineFilter, ordering: Ordering, offset: number, limit: number): Promise<Machine[]>;
  /** Id and endpoint of every machine whose endpoint has `scheme` (`opc.tcp`), by id. */
  listEndpoints(scheme: string): Promise<{ id: number; endpoint: string }[]>;
}

/** An observation that must wait for a command result not applied yet; the consumer retries it. */
export class ObservationAheadError extends Error {
  override name = 'ObservationAheadError';
}

export interface OperationCompletion extends Delivery {
  operationId: number;
  machineId: number;
  command: Command;
  result: OperationResultValue;
}

/** The machines use cases: who may do what, and which events each change publishes. */
export function createMachineService(store: MachineStore, clock: () => Date = () => new Date()) {
  async function lockWritable(tx: MachineTransaction, caller: Caller, id: number): Promise<Machine> {
    const machine = await tx.lockMachine(id);
    // Unknown before forbidden, as Django did: the 404 says nothing a read would not.
    if (!machine) throw new NotFoundError();
    if (!mayWrite(caller, machine)) throw new PermissionDeniedError();
    return machine;
  }

  return {
    async list(request: ListRequest): Promise<PageOf<Machine>> {
      const { filter, ordering, pageSize } = request;
      if (request.page === 'last') {
        const count = await store.countMachines(filter);
        const page = resolvePage(request, count);
        const items = await store.listMachines(filter, ordering, offsetOf(page, pageSize), pageSize);
        return pageOf(items, count, page, pageSize);
      }
      const page = request.page;
      // Both at once: the page is usually valid, and a page past the end simply comes back empty.
      const [count, items] = await Promise.all([
        store.countMachines(filter),
        store.listMachines(filter, ordering, offsetOf(page, pageSize), pageSize),
      ]);
      return pageOf(items, count, resolvePage(request, count), pageSize);
    },

    async get(id: number): Promise<Machine> {
      const machine = await store.findMachine(id);
      if (!machine) throw new NotFoundError();
      return machine;
    },

    async create(caller: Caller, input: NewMachine): Promise<Machine> {
      const now = clock();
      return store.transaction((tx) =>
        tx.insertMachine(
          {
            name: input.name,
            location: input.location,
            status: input.status,
            endpoint: input.endpoint,
            ownerId: ownerOfNewMachine(caller, input.ownerId),
            createdAt: now,
            updatedAt: now,
            lastOperationId: null,
          },
          (machine) => [{ kind: 'created', machine }],
        ),
      );
    },

    /**
     * `readChanges` runs after the 404 and 403 checks, so an outsider learns nothing from
     * validation messages and a wrong body never beats a missing permission.
     */
    async update(caller: Caller, id: number, readChanges: () => MachineChanges): Promise<Machine> {
      return store.transaction(async (tx) => {
        const current = await lockWritable(tx, caller, id);
        const { machine, events } = planUpdate(current, readChanges(), caller, clock());
        if (events.length > 0) await tx.saveMachine(machine, events);
        return machine;
      });
    },

    async remove(caller: Caller, id: number): Promise<void> {
      await store.transaction(async (tx) => {
        const machine = await lockWritable(tx, caller, id);
        await tx.deleteMachine(id, [{ kind: 'deleted', machineId: machine.id, ownerId: machine.ownerId }]);
      });
    },

    /** Applies a finished command's result once, however often the event is delivered. */
    async applyOperationResult(completion: OperationCompletion): Promise<OperationOutcome> {
      return store.transaction(async (tx) => {
        const current = await tx.lockForDelivery(completion, completion.machineId);
        if (current === 'duplicate') return 'duplicate';
        if (!current) return 'machine_gone';
        const { outcome, change } = planOperationResult(current, completion, clock());
        if (change) await tx.saveMachine(change.machine, change.events);
        return outcome;
      });
    },

    /**
     * Applies what an OPC UA machine reported (cause `observed`), once per event. Throws
     * ObservationAheadError while a command finished before the observation is not applied yet,
     * so the event is delivered again after it.
     */
    async applyObservedStatus(
      delivery: Delivery & { machineId: number },
      observation: Observation,
    ): Promise<ObservationOutcome> {
      return store.transaction(async (tx) => {
        const current = await tx.lockForDelivery(delivery, delivery.machineId);
        if (current === 'duplicate') return 'duplicate';
        if (!current) return 'machine_gone';
        const { outcome, change } = planObservedStatus(current, observation, clock());
        if (outcome === 'behind')
          throw new ObservationAheadError(
            `observation of machine ${current.id} follows operation ${observation.afterOperationId}, not applied yet`,
          );
        if (change) await tx.saveMachine(change.machine, change.events);
        return outcome;
      });
    },

    endpointsWithScheme(scheme: string) {
      return store.listEndpoints(scheme);
    },

    /** Straight from the database, so a machine created a moment ago is known at once. */
    async lookup(id: number): Promise<Machine | undefined> {
      return store.findMachine(id);
    },
  };
}

export type MachineService = ReturnType<typeof createMachineService>;

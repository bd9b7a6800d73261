import { markProcessedStatement, OUTBOX_COLUMNS, outboxValues } from '@imm/bus';
import type { SqlTransaction } from '@imm/db';
import type { Machine, MachineEvent } from '../../domain/machine';
import type { MachineTransaction } from '../../domain/machine-service';
import { machineEnvelope } from '../events/machine-events';
import { type MachineRecord, machineOf, storable } from './machine-rows';

/** name, location, status, owner_id, endpoint: in this order in both the insert and the update. */
const editableValues = (machine: Machine) => [
  machine.name,
  machine.location,
  machine.status,
  machine.ownerId,
  machine.endpoint,
];

/** Written into a batch's text (a batch takes no parameters): callers pass `storable` ids only. */
const lockStatement = (id: number) => `select * from machine where id = ${id} for update`;

/**
 * `write` (parameters `$1…` of `values`) and the outbox rows of `events` as one statement: a
 * data-modifying CTE commits with the statement's other part or neither does. Its text depends only
 * on the write and the number of events, so it is prepared once per connection under `name`.
 */
function withEvents(
  name: string,
  write: string,
  values: unknown[],
  events: MachineEvent[],
): { text: string; values: unknown[]; name: string } {
  if (events.length === 0) return { text: write, values, name };
  const all = [...values];
  const params = (items: unknown[]) => items.map((item) => `$${all.push(item)}`).join(', ');
  const rows = events.map((event) => `(${params(outboxValues(machineEnvelope(event)))})`);
  return {
    text: `with change as (${write}) insert into outbox_message ${OUTBOX_COLUMNS} values ${rows.join(', ')}`,
    values: all,
    name: `${name}_${events.length}`,
  };
}

/**
 * The machines' transaction on raw node-postgres, three round trips for a change: BEGIN with the
 * lock (and a consumer's de-duplication mark), the write with its events, COMMIT.
 */
export function machineTransactionOf(tx: SqlTransaction, recorded: { count: number }): MachineTransaction {
  async function write(name: string, text: string, values: unknown[], events: MachineEvent[]) {
    const statement = withEvents(name, text, values, events);
    await tx.query(statement.text, statement.values, statement.name);
    recorded.count += events.length;
  }

  return {
    async lockMachine(id) {
      if (!storable(id)) return undefined;
      const [rows] = await tx.batch([lockStatement(id)]);
      const row = rows?.[0] as MachineRecord | undefined;
      return row && machineOf(row);
    },

    async lockForDelivery(delivery, machineId) {
      const statements = [markProcessedStatement(delivery.consumer, delivery.eventId)];
      if (storable(machineId)) statements.push(lockStatement(machineId));
      const [marked, locked] = await tx.batch(statements);
      if ((marked ?? []).length === 0) return 'duplicate';
      const row = locked?.[0] as MachineRecord | undefined;
      return row && machineOf(row);
    },

    async insertMachine(fields, eventsOf) {
      // The id first: the created event carries it, and travels in the insert's statement.
      const [ids] = await tx.batch(["select nextval(pg_get_serial_sequence('machine', 'id'))::int as id"]);
      const next = ids?.[0] as { id: number } | undefined;
      if (!next) throw new Error('the machine sequence gave no id');
      const machine: Machine = { ...fields, id: next.id };
      await write(
        'machine_insert',
        `insert into machine (id, name, location, status, owner_id, endpoint, created_at, updated_at, last_operation_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [machine.id, ...editableValues(machine), machine.createdAt, machine.updatedAt, machine.lastOperationId],
        eventsOf(machine),
      );
      return machine;
    },

    async saveMachine(machine, events) {
      await write(
        'machine_save',
        `update machine set name = $2, location = $3, status = $4, owner_id = $5, endpoint = $6, updated_at = $7,
           last_operation_id = $8
         where id = $1`,
        [machine.id, ...editableValues(machine), machine.updatedAt, machine.lastOperationId],
        events,
      );
    },

    async deleteMachine(id, events) {
      await write('machine_delete', 'delete from machine where id = $1', [id], events);
    },
  };
}

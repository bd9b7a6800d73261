import { OutboxMessage, ProcessedEvent } from '@imm/bus';
import { defineEntity, type InferEntity } from '@imm/db';

/** The Postgres schema this service owns; no other service reads it. */
export const MACHINES_SCHEMA = 'machines';

export const MachineEntity = defineEntity({
  name: 'Machine',
  tableName: 'machine',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    name: p.string().length(64),
    location: p.string().length(256),
    status: p.smallint().default(2),
    ownerId: p.integer(),
    endpoint: p.string().length(512).nullable(),
    createdAt: p.datetime().columnType('timestamptz'),
    updatedAt: p.datetime().columnType('timestamptz'),
    lastOperationId: p.bigint('number').nullable(),
  }),
});
export type MachineRow = InferEntity<typeof MachineEntity>;

/** Everything the ORM maps: the machines and the messaging tables of @imm/bus. */
export const entities = [MachineEntity, OutboxMessage, ProcessedEvent];

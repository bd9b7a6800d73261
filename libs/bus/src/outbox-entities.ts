import type { EventEnvelope } from '@imm/contracts';
import { defineEntity } from '@imm/db';

/**
 * An event waiting to be published (published_at null) or already published. Written in the same
 * transaction as the change it describes; the relay publishes it afterwards.
 */
export const OutboxMessage = defineEntity({
  name: 'OutboxMessage',
  tableName: 'outbox_message',
  properties: (p) => ({
    id: p.uuid().primary(),
    type: p.text(),
    /** The full envelope, exactly as it will be published. */
    payload: p.json<EventEnvelope>().columnType('jsonb'),
    createdAt: p.datetime().columnType('timestamptz'),
    publishedAt: p.datetime().columnType('timestamptz').nullable(),
  }),
});

/** One row per (consumer, event) already handled, so a redelivered event is applied once. */
export const ProcessedEvent = defineEntity({
  name: 'ProcessedEvent',
  tableName: 'processed_event',
  properties: (p) => ({
    consumer: p.text().primary(),
    eventId: p.uuid().primary(),
    processedAt: p.datetime().columnType('timestamptz'),
  }),
});

/**
 * DDL for both tables, for a service's first migration (`for (const sql of messagingTablesSql)
 * this.addSql(sql)`). Names are unqualified: @imm/db runs migrations with search_path set to the
 * service's schema. `seq` orders events recorded within one transaction (same created_at); the
 * entity does not map it.
 */
export const messagingTablesSql: string[] = [
  `create table outbox_message (
    seq bigint generated always as identity,
    id uuid primary key,
    type text not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    published_at timestamptz null
  )`,
  'create index outbox_message_unpublished_idx on outbox_message (created_at, seq) where published_at is null',
  `create table processed_event (
    consumer text not null,
    event_id uuid not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, event_id)
  )`,
];

import { OutboxMessage, ProcessedEvent } from '@imm/bus';
import { type Database, type DatabaseOptions, openDatabase } from '@imm/db';
import type { Logger } from '@imm/logging';
import { entities, SCHEMA } from './entities';
import { migrations } from './migrations';

/** The operations schema, migrated, with the outbox tables: the API and the worker open the same one. */
export function operationsDatabase(url: string): Omit<DatabaseOptions, 'logger'> {
  return { url, schema: SCHEMA, entities: [...entities, OutboxMessage, ProcessedEvent], migrations };
}

export function openOperationsDatabase(url: string, logger: Logger): Promise<Database> {
  return openDatabase({ ...operationsDatabase(url), logger });
}

import { Writable } from 'node:stream';
import { messagingTablesSql, OutboxMessage, ProcessedEvent } from '@imm/bus';
import { type DatabaseOptions, Migration } from '@imm/db';
import type { Logger } from '@imm/logging';
import { pino } from 'pino';

class MessagingTables extends Migration {
  override up(): void {
    for (const sql of messagingTablesSql) this.addSql(sql);
  }
}

/** A schema with just the outbox tables, which the relay needs. */
export function messagingDatabase(url: string): Omit<DatabaseOptions, 'logger'> {
  return {
    url,
    schema: 'host_test',
    entities: [OutboxMessage, ProcessedEvent],
    migrations: [{ name: '0001_messaging', class: MessagingTables }],
  };
}

export interface LogLine {
  level: number;
  msg: string;
  part?: string;
  [field: string]: unknown;
}

/** A debug-level logger whose lines the test reads. */
export function memoryLogger(): { logger: Logger; lines: LogLine[]; parts(msg: 'opened' | 'closed'): string[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    logger: pino({ level: 'debug' }, sink) as Logger,
    lines,
    parts: (msg) => lines.filter((line) => line.msg === msg).map((line) => String(line.part)),
  };
}

export async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

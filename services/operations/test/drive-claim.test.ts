import type { Database } from '@imm/db';
import { type HttpMachines, query, startHttpMachines, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOperationsDatabase } from '../src/adapters/data/database';
import { createOperationRepository, type OperationRepository } from '../src/adapters/data/operation-repository';
import { silent, type Stack, startStack, startWorker } from './harness';

/**
 * A worker's claim takes the entry's lease and, when the job is to drive the machine, marks the
 * first attempt in the same statement: the mark is committed before anything is sent, as when it
 * was a statement of its own, and a mark an earlier worker left is never replaced.
 */

const DEADLINE = { deadlineMs: 120_000 };

async function accept(stack: Stack, machineId: number, endpoint: string | null = null): Promise<number> {
  stack.standIn.add({ id: machineId, owner_id: 1, endpoint });
  const reply = await stack.operate(machineId, 'START');
  expect(reply.status).toBe(202);
  return reply.body.result.id as number;
}

async function driveColumns(stack: Stack, id: number) {
  const [row] = await query<{ holder: string | null; sent: Date | null }>(
    stack.env.DATABASE_URL,
    'select lease_holder as holder, sent_at as sent from operations.operation where id = $1',
    [id],
  );
  return row;
}

describe('claiming a command to drive it', () => {
  let stack: Stack;
  let orm: Database;
  let repository: OperationRepository;
  let machines: HttpMachines;
  beforeAll(async () => {
    machines = await startHttpMachines();
    // No worker of the stack's own: the test claims, or starts the worker when it wants one.
    stack = await startStack('drive_claim', { worker: false });
    orm = await openOperationsDatabase(stack.env.DATABASE_URL, silent);
    repository = createOperationRepository(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await stack?.stop();
    await machines?.close();
  });

  it('takes the lease and marks the first attempt together; another holder gets nothing while it runs', async () => {
    const id = await accept(stack, 1);
    const claim = await repository.claim(id, 'first:1', 60_000, DEADLINE);
    expect(claim).toMatchObject({ sentBefore: false, firstMark: 'sent', entry: { id, result: 4, command: 'START' } });
    const row = await driveColumns(stack, id);
    expect(row?.holder).toBe('first:1');
    expect(row?.sent).toBeInstanceOf(Date);
    expect(await repository.claim(id, 'second:1', 60_000, DEADLINE)).toBeUndefined();
    expect((await driveColumns(stack, id))?.holder).toBe('first:1');
  });

  it('a claim that finds an earlier send never marks a new one', async () => {
    const id = await accept(stack, 2);
    // A worker marked it, sent it (maybe) and is gone: its lease has run out.
    await query(
      stack.env.DATABASE_URL,
      `update operations.operation set sent_at = now() - interval '5 seconds', lease_holder = 'gone:1',
         lease_until = now() - interval '1 second' where id = $1`,
      [id],
    );
    const earlier = (await driveColumns(stack, id))?.sent as Date;
    const claim = await repository.claim(id, 'next:1', 60_000, DEADLINE);
    expect(claim).toMatchObject({ sentBefore: true });
    expect(claim?.firstMark).toBeUndefined();
    const row = await driveColumns(stack, id);
    expect(row?.holder).toBe('next:1');
    expect(row?.sent?.getTime()).toBe(earlier.getTime());
  });

  it('past the deadline for starting, takes the lease and marks nothing', async () => {
    const id = await accept(stack, 3);
    await query(
      stack.env.DATABASE_URL,
      `update operations.operation set created_at = now() - interval '10 minutes' where id = $1`,
      [id],
    );
    const claim = await repository.claim(id, 'late:1', 60_000, DEADLINE);
    expect(claim).toMatchObject({ sentBefore: false, firstMark: 'overdue' });
    expect(await driveColumns(stack, id)).toEqual({ holder: 'late:1', sent: null });
  });

  it('without a first attempt to mark (a job carrying its outcome), only takes the lease', async () => {
    const id = await accept(stack, 4);
    const claim = await repository.claim(id, 'kept:1', 60_000);
    expect(claim).toMatchObject({ sentBefore: false });
    expect(claim?.firstMark).toBeUndefined();
    expect(await driveColumns(stack, id)).toEqual({ holder: 'kept:1', sent: null });
  });

  it('a worker gone between its claim and the drive leaves the command "outcome unknown", never sent', async () => {
    const id = await accept(stack, 5, machines.endpoint('claimed-then-gone'));
    // The claim committed (with its mark), then the worker died before reaching the machine.
    expect(await repository.claim(id, 'gone:2', 500, DEADLINE)).toMatchObject({ firstMark: 'sent' });
    const worker = await startWorker(stack.settings);
    try {
      const entry = await waitFor(
        async () => {
          const row = await stack.entry(id);
          return row && row.result !== 4 ? row : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(entry).toMatchObject({ result: 3, message: 'outcome unknown' });
      expect(machines.count('claimed-then-gone')).toBe(0);
      expect(await stack.recordedCompletions(id)).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});

import { dropTestDatabase, query, testInfrastructure } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOperationsDatabase } from '../src/adapters/data/database';
import { createOperationRepository, type OperationRepository } from '../src/adapters/data/operation-repository';
import { silent } from './harness';

const { DATABASE_URL } = testInfrastructure('ops_counts');
let orm: Awaited<ReturnType<typeof openOperationsDatabase>>;
let repository: OperationRepository;

/** Finished entries (the one-PENDING-per-machine index allows any number of those). */
async function insertEntries(rows: { worker: number; owner: number; machine: number }[]): Promise<void> {
  await query(
    DATABASE_URL,
    `insert into operations.operation (request_datetime, command, worker, machine_id, machine_owner_id, result, created_at, finished_at)
     select now(), 'START', w, m, o, 1, now(), now() from unnest($1::int[], $2::int[], $3::int[]) as t(w, o, m)`,
    [rows.map((r) => r.worker), rows.map((r) => r.owner), rows.map((r) => r.machine)],
  );
}

async function counted(where: string, params: unknown[]): Promise<number> {
  const [row] = await query<{ n: string }>(
    DATABASE_URL,
    `select count(*) as n from operations.operation where ${where}`,
    params,
  );
  return Number(row?.n);
}

beforeAll(async () => {
  orm = await openOperationsDatabase(DATABASE_URL, silent);
  repository = createOperationRepository(orm);
});
afterAll(async () => {
  await orm?.close();
  await dropTestDatabase(DATABASE_URL);
});

describe('history counts', () => {
  it('counts a user’s and a machine’s entries exactly, from the counters, across statements and connections', async () => {
    // Alice (1) asks on her own machine and on Bob's (2); Bob asks on his own and on Alice's.
    await insertEntries([
      { worker: 1, owner: 1, machine: 10 },
      { worker: 1, owner: 2, machine: 20 },
      { worker: 2, owner: 2, machine: 20 },
      { worker: 2, owner: 1, machine: 10 },
    ]);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        insertEntries([
          { worker: 1, owner: 1, machine: 10 },
          { worker: 3, owner: i % 2 === 0 ? 1 : 2, machine: i % 2 === 0 ? 10 : 20 },
        ]),
      ),
    );
    for (const user of [1, 2, 3, 4]) {
      expect(await repository.countEntries({ involvedUserId: user })).toBe(
        await counted('worker = $1 or machine_owner_id = $1', [user]),
      );
    }
    for (const machine of [10, 20, 30]) {
      expect(await repository.countEntries({ machineId: machine })).toBe(await counted('machine_id = $1', [machine]));
    }
    // Filtered lists count the rows themselves.
    expect(await repository.countEntries({ involvedUserId: 1, machineId: 20 })).toBe(
      await counted('(worker = 1 or machine_owner_id = 1) and machine_id = 20', []),
    );
    const page = await repository.listEntries({ involvedUserId: 2 }, 0, 100);
    expect(page.length).toBe(await counted('worker = 2 or machine_owner_id = 2', []));
    expect(page.map((e) => e.id)).toEqual([...page.map((e) => e.id)].sort((a, b) => b - a));
  });
});

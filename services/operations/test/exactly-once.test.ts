import { type HttpMachines, startHttpMachines, startTcpProxy, type TcpProxy, waitFor } from '@imm/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningOperationsWorker } from '../src/worker';
import { spawnWorker, type Stack, startStack, startWorker } from './harness';

/**
 * A command reaches its machine once, whatever fails: the HTTP test machines count what they
 * receive, and every test asserts one command per accepted entry.
 */

async function accept(stack: Stack, machineId: number, endpoint: string): Promise<number> {
  stack.standIn.add({ id: machineId, owner_id: 1, endpoint });
  const reply = await stack.operate(machineId, 'START');
  expect(reply.status).toBe(202);
  return reply.body.result.id as number;
}

async function finalEntry(stack: Stack, id: number, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const row = await stack.entry(id);
      return row && row.result !== 4 ? row : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

const nextReceipt = (machines: HttpMachines) => new Promise<void>((resolve) => machines.onReceive(() => resolve()));

describe('the sweeper and a command being driven', () => {
  let stack: Stack;
  let machines: HttpMachines;
  beforeAll(async () => {
    machines = await startHttpMachines();
    // One command at a time: the second machine is driven only once the first answered, late
    // within its deadline, and answers after the deadline has passed.
    stack = await startStack('sweeper_lease', {
      settings: {
        WORKER_CONCURRENCY: '1',
        OPERATION_DEADLINE_MS: '6000',
        DRIVER_TIMEOUT_MS: '5000',
        SWEEP_INTERVAL_MS: '200',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await machines?.close();
  });

  it('never expires a command a driver is still talking to; only one that never started', async () => {
    const [first, second, third] = await Promise.all([
      accept(stack, 1, machines.endpoint('lease-1', { delayMs: 4000 })),
      accept(stack, 2, machines.endpoint('lease-2', { delayMs: 4000 })),
      accept(stack, 3, machines.endpoint('lease-3', { delayMs: 4000 })),
    ]);
    const entries = await Promise.all([first, second, third].map((id) => finalEntry(stack, id)));
    const byMachine = new Map(entries.map((e, i) => [i + 1, e]));
    // Two were driven (the one queued behind the other started just within its deadline) and
    // both answered SUCCESS; the third could not start in time and was never sent.
    const succeeded = [...byMachine].filter(([, e]) => e.result === 1).map(([m]) => m);
    const expired = [...byMachine].filter(([, e]) => e.result === 3).map(([m]) => m);
    expect(succeeded).toHaveLength(2);
    expect(expired).toHaveLength(1);
    expect(byMachine.get(expired[0] as number)?.message).toBe('not started within 6 s of being accepted');
    for (const m of succeeded) {
      expect(machines.count(`lease-${m}`)).toBe(1);
      await waitFor(() => stack.standIn.machines.get(m)?.status === 4);
      // RUNNING now, so another START is refused: the machine is not started twice.
      expect((await stack.operate(m, 'START')).status).toBe(409);
    }
    expect(machines.count(`lease-${expired[0]}`)).toBe(0);
    for (const id of [first, second, third]) expect(await stack.recordedCompletions(id)).toBe(1);
  });
});

describe('Postgres away after the machine answered', () => {
  let stack: Stack;
  let machines: HttpMachines;
  let proxy: TcpProxy;
  let worker: RunningOperationsWorker | undefined;
  beforeAll(async () => {
    machines = await startHttpMachines();
    stack = await startStack('pg_blip', { worker: false });
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  });
  afterAll(async () => {
    await worker?.stop();
    await proxy?.close();
    await stack?.stop();
    await machines?.close();
  });

  it('keeps the answer and records it once the database is back; the machine is never driven again', async () => {
    // The worker reaches Postgres through a proxy the test can cut; the API does not.
    worker = await startWorker({ ...stack.settings, DATABASE_URL: proxy.urlFor(stack.env.DATABASE_URL) });
    const received = nextReceipt(machines);
    const id = await accept(stack, 1, machines.endpoint('blip', { delayMs: 300 }));
    await received;
    await proxy.cut(); // before the answer arrives, so recording it fails
    // Longer than the worker used to retry recording (about 15 s), after which it drove the
    // machine a second time.
    await new Promise((resolve) => setTimeout(resolve, 17_000));
    expect((await stack.entry(id))?.result).toBe(4);
    await proxy.restore();
    const entry = await finalEntry(stack, id);
    expect(entry.result).toBe(1);
    await waitFor(() => stack.completions(id) === 1, { timeoutMs: 20_000 });
    // Give a second drive, if there were one, the time to happen: the sweeper runs every 500 ms.
    await waitFor(async () => (await stack.recordedCompletions(id)) === 1);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(machines.count('blip')).toBe(1);
    expect(stack.completions(id)).toBe(1);
  }, 90_000);

  it('a worker that dies holding the answer leaves it in the job; the next one records it, sending nothing', async () => {
    const dying = await spawnWorker({ ...stack.settings, DATABASE_URL: proxy.urlFor(stack.env.DATABASE_URL) });
    await dying.ready();
    const received = nextReceipt(machines);
    const id = await accept(stack, 2, machines.endpoint('kept', { delayMs: 300 }));
    await received;
    await proxy.cut();
    // The answer arrived and is kept in the job while the database is away.
    const redis = new Redis(stack.env.REDIS_URL);
    try {
      await waitFor(
        async () => {
          const data = await redis.hget(`${stack.env.REDIS_PREFIX}:operations:operation-${id}`, 'data');
          return data?.includes('"outcome"') ?? false;
        },
        { timeoutMs: 20_000 },
      );
    } finally {
      redis.disconnect();
    }
    dying.child.kill('SIGKILL');
    await dying.exited;
    await proxy.restore();
    const next = await spawnWorker(stack.settings);
    try {
      await next.ready();
      const entry = await finalEntry(stack, id);
      expect(entry).toMatchObject({ result: 1, message: null });
      await waitFor(() => stack.completions(id) === 1, { timeoutMs: 20_000 });
      expect(machines.count('kept')).toBe(1);
      await waitFor(() => stack.standIn.machines.get(2)?.status === 4);
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
  }, 90_000);
});

import {
  type HttpMachines,
  type NatsServerHandle,
  query,
  type RedisServerHandle,
  startHttpMachines,
  startNatsServer,
  startRedisServer,
  waitFor,
} from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeJobs, spawnWorker, type Stack, startStack } from './harness';

/** Accepts a START on a fresh machine and returns the entry id. */
async function accept(stack: Stack, machineId: number, endpoint: string | null = null): Promise<number> {
  stack.standIn.add({ id: machineId, owner_id: 1, endpoint });
  const reply = await stack.operate(machineId, 'START');
  expect(reply.status).toBe(202);
  return reply.body.result.id as number;
}

async function finalResult(stack: Stack, id: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    async () => {
      const row = await stack.entry(id);
      return row && row.result !== 4 ? row.result : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Exactly one result and one completion event, recorded and delivered. */
async function expectFinishedOnce(stack: Stack, id: number, result = 1): Promise<void> {
  expect(await finalResult(stack, id)).toBe(result);
  await waitFor(() => stack.completions(id) >= 1, { timeoutMs: 20_000 });
  expect(await stack.recordedCompletions(id)).toBe(1);
  expect(stack.completions(id)).toBe(1);
}

describe('Redis down when a command is accepted', () => {
  let stack: Stack;
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startStack('redis_down', { infra: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('records the command (202), and the sweeper queues it once Redis is back', async () => {
    const before = await accept(stack, 1);
    await expectFinishedOnce(stack, before);

    await redis.stop();
    const started = Date.now();
    const id = await accept(stack, 2);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stack.entry(id))?.result).toBe(4);
    const ready = await stack.call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.message).toHaveProperty('redis');

    await redis.start();
    await expectFinishedOnce(stack, id);
    await waitFor(async () => (await stack.call('GET', '/readyz')).status === 200);
  });

  it('starts while Redis is down, accepts commands, and runs them once Redis is up', async () => {
    await redis.stop();
    const late = await startStack('redis_late', { infra: { REDIS_URL: redis.url } });
    try {
      const id = await accept(late, 1);
      expect((await late.entry(id))?.result).toBe(4);
      await redis.start();
      await expectFinishedOnce(late, id);
    } finally {
      await late.stop();
    }
  });
});

describe('a worker killed (-9) in the middle of a command', () => {
  let stack: Stack;
  let machines: HttpMachines;
  beforeAll(async () => {
    machines = await startHttpMachines();
    stack = await startStack('kill9', { worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await machines?.close();
  });

  it('is taken over by a new worker, which never sends it again: the command ends once, "outcome unknown"', async () => {
    const first = await spawnWorker(stack.settings);
    await first.ready();
    const received = new Promise<void>((resolve) => machines.onReceive(() => resolve()));
    const id = await accept(stack, 1, machines.endpoint('kill9', { delayMs: 3000 }));
    await received; // the command is on its way to the machine
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await stack.entry(id))?.result).toBe(4);

    const second = await spawnWorker(stack.settings);
    try {
      await second.ready();
      await expectFinishedOnce(stack, id, 3);
      expect((await stack.entry(id))?.message).toMatch(/^outcome unknown/);
      expect(machines.count('kill9')).toBe(1);
      expect(stack.standIn.machines.get(1)?.status).toBe(2); // unknown: the status is left alone
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('a worker stopped (SIGTERM) during a command', () => {
  let stack: Stack;
  let machines: HttpMachines;
  beforeAll(async () => {
    machines = await startHttpMachines();
    stack = await startStack('sigterm', { worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await machines?.close();
  });

  it('lets the command finish before it exits', async () => {
    const worker = await spawnWorker({ ...stack.settings, WORKER_SHUTDOWN_MS: '10000' });
    await worker.ready();
    const id = await accept(stack, 1, 'sim://slow?latency_ms=2000');
    await waitFor(async () => (await activeJobs(stack.env.REDIS_URL, stack.env.REDIS_PREFIX)).length === 1);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // Finished by the worker that was stopping, not left for another.
    expect((await stack.entry(id))?.result).toBe(1);
    await expectFinishedOnce(stack, id);
  });

  it('waits past the grace period for a command already sent, instead of aborting it and sending it again', async () => {
    const worker = await spawnWorker({ ...stack.settings, WORKER_SHUTDOWN_MS: '300', DRIVER_TIMEOUT_MS: '5000' });
    await worker.ready();
    const received = new Promise<void>((resolve) => machines.onReceive(() => resolve()));
    const id = await accept(stack, 2, machines.endpoint('sigterm-sent', { delayMs: 2000 }));
    await received;
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect((await stack.entry(id))?.result).toBe(1);

    const next = await spawnWorker(stack.settings);
    try {
      await next.ready();
      await expectFinishedOnce(stack, id);
      expect(machines.count('sigterm-sent')).toBe(1);
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
  });

  it('hands a command not sent yet (waiting to retry an unreachable machine) to the next worker', async () => {
    const worker = await spawnWorker({
      ...stack.settings,
      WORKER_SHUTDOWN_MS: '300',
      DRIVER_BACKOFF_MS: '4000',
      DRIVER_ATTEMPTS: '2',
    });
    await worker.ready();
    const id = await accept(stack, 3, 'sim://down?error_rate=1');
    // Claimed, first attempt failed before anything was sent: waiting for the retry.
    await waitFor(async () => {
      const [row] = await query<{ holder: string | null; sent: Date | null }>(
        stack.env.DATABASE_URL,
        'select lease_holder as holder, sent_at as sent from operations.operation where id = $1',
        [id],
      );
      return row?.holder && !row.sent;
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('command released for another worker');
    expect((await stack.entry(id))?.result).toBe(4);

    const next = await spawnWorker({ ...stack.settings, DRIVER_BACKOFF_MS: '50' });
    try {
      await next.ready();
      await expectFinishedOnce(stack, id, 3);
      expect((await stack.entry(id))?.message).toBe('no answer'); // nothing was sent
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
  });
});

describe('NATS down while commands complete', () => {
  let nats: NatsServerHandle;
  let stack: Stack;
  beforeAll(async () => {
    nats = await startNatsServer();
    stack = await startStack('nats_down', { infra: { NATS_URL: nats.url } });
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.dispose();
  });

  it('records the results, and delivers their events once NATS is back', async () => {
    const ids: number[] = [];
    for (let machine = 1; machine <= 3; machine++) ids.push(await accept(stack, machine, 'sim://slow?latency_ms=1500'));
    await nats.stop();
    for (const id of ids) expect(await finalResult(stack, id)).toBe(1);
    for (const id of ids) expect(stack.completions(id)).toBe(0);
    expect((await stack.call('GET', '/readyz')).status).toBe(503);

    await nats.start();
    for (const id of ids) await expectFinishedOnce(stack, id);
    for (let machine = 1; machine <= 3; machine++) expect(stack.standIn.machines.get(machine)?.status).toBe(4);
  });
});

describe('a command past its deadline', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('deadline', {
      settings: {
        OPERATION_DEADLINE_MS: '1000',
        DRIVER_TIMEOUT_MS: '10000',
        SWEEP_INTERVAL_MS: '200',
        WORKER_CONCURRENCY: '1',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('ends as INTERNALFAILED, once, when no worker started it in time; one being driven finishes', async () => {
    const driven = await accept(stack, 1, 'sim://slow?latency_ms=2500');
    const queued = await accept(stack, 2, 'sim://fast?latency_ms=10');
    expect(await finalResult(stack, queued)).toBe(3);
    expect((await stack.entry(queued))?.message).toBe('not started within 1 s of being accepted');
    await waitFor(() => stack.completions(queued) === 1);
    // The one in the machine's hands past the deadline is never cut short: its answer counts.
    await expectFinishedOnce(stack, driven, 1);
    await waitFor(() => stack.standIn.machines.get(1)?.status === 4);
    expect((await stack.entry(queued))?.result).toBe(3);
    expect(await stack.recordedCompletions(queued)).toBe(1);
    expect(stack.standIn.machines.get(2)?.status).toBe(2);
  });
});

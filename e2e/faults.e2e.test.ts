import { type RunningProcess, startNatsServer, startProcess, startRedisServer, startSystem } from '@imm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import {
  completionsRecorded,
  createMachine,
  sendCommand,
  startRemoteMachine,
  waitForFinal,
  waitForStatus,
} from './machine-control';

/**
 * The promise: "No command is ever lost or left PENDING forever: a worker crash, a Redis or NATS outage or
 * a restart ends with every accepted command finished once the system is back." Each case runs
 * the real processes and takes one thing away: the worker, Redis, or NATS (servers of the test's
 * own; the shared ones are never touched).
 */
const READY = 2;
const RUNNING = 4;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

describe('the worker', () => {
  it('crashed (kill -9) in the middle of a command: another worker ends it once, never sending it again', async () => {
    const system = await startSystem(
      { JOB_LOCK_MS: '2000', DRIVER_TIMEOUT_MS: '60000' },
      {
        processes: ['auth', 'machines', 'operations', 'gateway'],
      },
    );
    cleanups.push(() => system.stop());
    const api = apiClient(system.url);
    const owner = await api.newUser('crash');
    const machine = await startRemoteMachine();
    cleanups.push(() => machine.close());
    const machineId = await createMachine(api, owner.access, { endpoint: machine.url });

    const first: RunningProcess = startProcess(system, 'worker');
    cleanups.push(() => first.kill('SIGKILL'));
    const held = machine.nextHeld();
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    expect(accepted.status).toBe(202);
    await held; // the worker is talking to the machine right now
    await first.kill('SIGKILL');

    const second = startProcess(system, 'worker');
    cleanups.push(() => second.kill('SIGTERM'));
    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    // The machine may have started: driving it again would start it twice. Its answer died with
    // the worker, so the entry says the outcome is unknown and the status is left as it was.
    expect(done.result).toBe(3);
    expect(done.message).toMatch(/^outcome unknown/);
    expect(machine.received).toEqual(['START']);
    await waitForStatus(api, owner.access, machineId, READY);
    expect(await completionsRecorded(system.env.DATABASE_URL as string, done.id)).toBe(1);
    await second.kill('SIGTERM');
  });

  it('stopped (SIGTERM) during a command: it finishes that command before it exits', async () => {
    const system = await startSystem(
      { WORKER_SHUTDOWN_MS: '20000', DRIVER_TIMEOUT_MS: '60000' },
      {
        processes: ['auth', 'machines', 'operations', 'gateway'],
      },
    );
    cleanups.push(() => system.stop());
    const api = apiClient(system.url);
    const owner = await api.newUser('term');
    const machine = await startRemoteMachine();
    cleanups.push(() => machine.close());
    const machineId = await createMachine(api, owner.access, { endpoint: machine.url });

    const worker = startProcess(system, 'worker');
    cleanups.push(() => worker.kill('SIGKILL'));
    const held = machine.nextHeld();
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    const command = await held;
    const exited = worker.kill('SIGTERM');
    command.release({ body: '{"result": 1}' });
    expect(await exited).toBe(0);

    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    expect(done.result).toBe(1);
    expect(machine.received).toEqual(['START']);
    expect(await completionsRecorded(system.env.DATABASE_URL as string, done.id)).toBe(1);
  });
});

describe('Redis', () => {
  it('restarted (empty) while commands are accepted: none is lost', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const system = await startSystem({ REDIS_URL: redis.url, SIM_LATENCY_MS: '50', SWEEP_INTERVAL_MS: '500' });
    cleanups.push(() => system.stop());
    const api = apiClient(system.url);
    const owner = await api.newUser('redis');
    const machines = await Promise.all([1, 2, 3, 4, 5, 6].map(() => createMachine(api, owner.access)));

    const before = await sendCommand(api, owner.access, machines[0] as number, 'START');
    await redis.stop();
    const during = await Promise.all(machines.slice(1, 4).map((id) => sendCommand(api, owner.access, id, 'START')));
    await redis.start();
    const after = await Promise.all(machines.slice(4).map((id) => sendCommand(api, owner.access, id, 'START')));

    const accepted = [before, ...during, ...after];
    expect(accepted.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    const finals = await Promise.all(
      accepted.map((r) => waitForFinal(api, owner.access, r.headers.get('location') as string, 60_000)),
    );
    expect(finals.map((entry) => entry.result)).toEqual([1, 1, 1, 1, 1, 1]);
    for (const id of machines) await waitForStatus(api, owner.access, id, RUNNING);
  });
});

describe('NATS', () => {
  it('stopped for seconds while commands complete: every completion arrives once it is back', async () => {
    const nats = await startNatsServer();
    cleanups.push(() => nats.dispose());
    const system = await startSystem({ NATS_URL: nats.url, SIM_LATENCY_MS: '1500' });
    cleanups.push(() => system.stop());
    const api = apiClient(system.url);
    const owner = await api.newUser('nats');
    const machines = await Promise.all([1, 2, 3, 4, 5].map(() => createMachine(api, owner.access)));
    const accepted = await Promise.all(machines.map((id) => sendCommand(api, owner.access, id, 'START')));
    expect(accepted.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);

    await nats.stop();
    // The worker records results in its own database while NATS is away; the personal history
    // needs no other service, so it shows them.
    const ids = new Set(accepted.map((r) => r.body.result.id));
    await expect
      .poll(
        async () => {
          const list = await api.call('GET', '/api/machines/history/?page_size=100', { token: owner.access });
          return list.body.result.results.filter((e: { id: number; result: number }) => ids.has(e.id) && e.result === 1)
            .length;
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe(5);
    await nats.start();

    for (const id of machines) await waitForStatus(api, owner.access, id, RUNNING, 60_000);
  });
});

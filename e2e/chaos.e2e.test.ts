import { randomUUID } from 'node:crypto';
import {
  type HttpMachines,
  query,
  type RunningProcess,
  startHttpMachines,
  startNatsServer,
  startProcess,
  startRedisServer,
  startSystem,
  startTcpProxy,
  testInfrastructure,
  waitFor,
} from '@imm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import { createMachine } from './machine-control';

/**
 * The promise to a plant, under every fault at once: 300 commands over 60 HTTP test machines
 * (quick, slow, failing, never answering) while a worker is killed with -9 twice, Redis restarts
 * empty, NATS stops for 10 s and Postgres refuses connections for 10 s (servers and a proxy of the
 * test's own; the shared ones are never touched). Afterwards every accepted entry is final, every
 * machine received each of its commands at most once, entries without an answer say "outcome
 * unknown", and every machine's status follows its last successful command.
 */
const MACHINES = 60;
const COMMANDS_PER_MACHINE = 5;
const FINAL = new Set([1, 2, 3]);
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

type Kind = 'quick' | 'slow' | 'failing' | 'silent';
/** 36 quick, 10 slow, 8 that answer "failed", 6 that never answer. */
function kindOf(index: number): Kind {
  if (index < 36) return 'quick';
  if (index < 46) return 'slow';
  if (index < 54) return 'failing';
  return 'silent';
}

function endpointOf(machines: HttpMachines, index: number): string {
  const name = `chaos-${index}`;
  switch (kindOf(index)) {
    case 'quick':
      return machines.endpoint(name, { delayMs: 50 + (index % 7) * 50 });
    case 'slow':
      return machines.endpoint(name, { delayMs: 1500 + (index % 3) * 400 });
    case 'failing':
      return machines.endpoint(name, { delayMs: 100, result: 2 });
    case 'silent':
      return machines.endpoint(name, { never: true });
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface EntryRow {
  id: number;
  machine_id: number;
  command: string;
  result: number;
  message: string | null;
  request_id: string | null;
}

describe('chaos', () => {
  it('300 commands through worker crashes and Redis, NATS and Postgres outages: each sent at most once, every outcome recorded', async () => {
    const [redis, nats, pgProxy, machines] = await Promise.all([
      startRedisServer(),
      startNatsServer(),
      startTcpProxy({ host: '127.0.0.1', port: 5432 }),
      startHttpMachines(),
    ]);
    cleanups.push(
      () => redis.stop(),
      () => nats.dispose(),
      () => pgProxy.close(),
      () => machines.close(),
    );
    const directDatabase = testInfrastructure('chaos').DATABASE_URL;
    const system = await startSystem(
      {
        DATABASE_URL: pgProxy.urlFor(directDatabase),
        REDIS_URL: redis.url,
        NATS_URL: nats.url,
        RATE_LIMIT_PER_MINUTE: '1000000',
        JOB_LOCK_MS: '3000',
        SWEEP_INTERVAL_MS: '1000',
        DRIVER_TIMEOUT_MS: '3000',
        DRIVER_BACKOFF_MS: '200',
        WORKER_SHUTDOWN_MS: '2000',
        WORKER_CONCURRENCY: '16',
        OPERATION_DEADLINE_MS: '120000',
        LOG_LEVEL: 'warn',
      },
      { processes: ['auth', 'machines', 'operations', 'gateway'] },
    );
    cleanups.push(() => system.stop());
    const workers: RunningProcess[] = [];
    /** A worker, once it runs: one starting while NATS is away exits (a supervisor would restart it). */
    const startWorker = async () => {
      const worker = startProcess(system, 'worker', { PORT: '0', LOG_LEVEL: 'info' });
      workers.push(worker);
      cleanups.push(() => worker.kill('SIGKILL'));
      await waitFor(() => worker.output().includes('operations worker running'), { timeoutMs: 60_000 });
      return worker;
    };
    await Promise.all([startWorker(), startWorker()]);

    const api = apiClient(system.url);
    const owner = await api.newUser('chaos');
    const machineIds = await Promise.all(
      Array.from({ length: MACHINES }, (_, i) =>
        createMachine(api, owner.access, { endpoint: endpointOf(machines, i), name: `chaos-${i}` }),
      ),
    );

    /** POSTs one command, retrying through outages with one Idempotency-Key (and request id). */
    async function send(machineId: number, command: string): Promise<{ status: number; id?: number }> {
      const key = randomUUID();
      for (;;) {
        const reply = await api
          .call('POST', `/api/machines/${machineId}/operation/`, {
            token: owner.access,
            body: { command },
            headers: { 'Idempotency-Key': key, 'X-Request-Id': key },
          })
          .catch(() => undefined);
        if (reply && reply.status < 500) return { status: reply.status, id: reply.body?.result?.id };
        await pause(300);
      }
    }

    async function finalOf(id: number): Promise<EntryRow> {
      return waitFor(
        async () => {
          const [row] = await query<EntryRow>(
            directDatabase,
            'select id, machine_id, command, result, message, request_id from operations.operation where id = $1',
            [id],
          );
          return row && FINAL.has(row.result) ? row : undefined;
        },
        { timeoutMs: 150_000, intervalMs: 200 },
      );
    }

    /** Each machine gets its commands one after another, START and STOP as its state allows. */
    async function operate(index: number): Promise<number> {
      const machineId = machineIds[index] as number;
      let running = false;
      let accepted = 0;
      for (let n = 0; n < COMMANDS_PER_MACHINE; n++) {
        await pause((index * 37 + n * 211) % 1200);
        const reply = await send(machineId, running ? 'STOP' : 'START');
        if (reply.status !== 202 || reply.id === undefined) continue; // refused (e.g. the machine is in ERROR)
        accepted += 1;
        const entry = await finalOf(reply.id);
        if (entry.result === 1) running = entry.command === 'START';
      }
      return accepted;
    }

    async function checkOutcomes(acceptedPerMachine: number[]): Promise<void> {
      // Every accepted entry is final.
      const entries = await query<EntryRow>(
        directDatabase,
        `select id, machine_id, command, result, message, request_id from operations.operation
         where result in (1, 2, 3, 4) order by id`,
      );
      expect(entries).toHaveLength(acceptedPerMachine.reduce((a, b) => a + b, 0));
      expect(entries.length).toBeGreaterThan(200);
      expect(entries.filter((e) => !FINAL.has(e.result))).toEqual([]);

      // Each machine received each of its commands at most once; an answered one exactly once.
      const receivedBy = new Map<string, number>();
      for (const r of machines.received)
        receivedBy.set(r.requestId ?? '', (receivedBy.get(r.requestId ?? '') ?? 0) + 1);
      const byRequest = new Map(entries.map((e) => [e.request_id, e]));
      expect(machines.received.filter((r) => !byRequest.has(r.requestId ?? null))).toEqual([]);
      for (const entry of entries) {
        const times = receivedBy.get(entry.request_id ?? '') ?? 0;
        expect(times, `entry ${entry.id}`).toBeLessThanOrEqual(1);
        if (entry.result === 1 || entry.result === 2) expect(times, `entry ${entry.id}`).toBe(1);
      }

      // An entry without an answer says so; one that never started was never sent.
      const unknown = entries.filter((e) => e.result === 3 && e.message?.startsWith('outcome unknown'));
      for (const entry of entries.filter((e) => e.result === 3)) {
        if ((receivedBy.get(entry.request_id ?? '') ?? 0) > 0)
          expect(entry.message, `entry ${entry.id}`).toMatch(/^outcome unknown/);
      }
      const silentIds = new Set(machineIds.filter((_, i) => kindOf(i) === 'silent'));
      for (const entry of entries.filter((e) => silentIds.has(e.machine_id))) {
        expect(entry.result, `entry ${entry.id}`).toBe(3);
      }
      expect(unknown.length).toBeGreaterThanOrEqual(silentIds.size);

      const results: Record<number, number> = {};
      for (const e of entries) results[e.result] = (results[e.result] ?? 0) + 1;
      process.stderr.write(
        `chaos: ${entries.length} accepted entries, results ${JSON.stringify(results)}, ${unknown.length} "outcome unknown", ${machines.received.length} commands received by the machines\n`,
      );

      // Every machine's status follows its newest SUCCESS or REMOTEFAILED command.
      const expected = new Map<number, number>(machineIds.map((id) => [id, 2]));
      for (const entry of entries) {
        if (entry.result === 1) expected.set(entry.machine_id, entry.command === 'START' ? 4 : 2);
        if (entry.result === 2) expected.set(entry.machine_id, 5);
      }
      await waitFor(
        async () => {
          const page = await api.call('GET', '/api/machines/?page_size=100', { token: owner.access });
          if (page.status !== 200) return false;
          const statuses = new Map<number, number>(
            page.body.result.results.map((m: { id: number; status: number }) => [m.id, m.status]),
          );
          return [...expected].every(([id, status]) => statuses.get(id) === status);
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
    }

    const started = Date.now();
    const at = (ms: number) => pause(Math.max(0, started + ms - Date.now()));
    const faults = (async () => {
      await at(3_000);
      await (workers[0] as RunningProcess).kill('SIGKILL');
      await startWorker();
      await at(8_000);
      await nats.stop();
      await at(18_000);
      await nats.start();
      await at(22_000);
      await pgProxy.cut();
      await at(32_000);
      await pgProxy.restore();
      await at(36_000);
      await redis.stop();
      await redis.start(); // empty: every job is gone
      await at(40_000);
      await (workers[1] as RunningProcess).kill('SIGKILL');
      await startWorker();
    })();
    const acceptedPerMachine = await Promise.all(machineIds.map((_, i) => operate(i)));
    await faults;
    const tookMs = Date.now() - started;
    try {
      await checkOutcomes(acceptedPerMachine);
    } catch (error) {
      // What the processes said is the first thing to read when this fails.
      for (const worker of workers) process.stderr.write(`--- worker ${worker.pid}\n${worker.output().slice(-6000)}\n`);
      process.stderr.write(`--- system\n${system.output().slice(-12000)}\n`);
      throw error;
    }
    process.stderr.write(`chaos: commands and faults took ${tookMs} ms\n`);
    for (const worker of workers.slice(-2)) {
      const code = await worker.kill('SIGTERM');
      if (code !== 0)
        process.stderr.write(`--- worker ${worker.pid} exited ${code}\n${worker.output().slice(-8000)}\n`);
      expect(code).toBe(0);
    }
  }, 240_000);
});

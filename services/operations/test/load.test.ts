import { query, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningOperationsWorker } from '../src/worker';
import { type Stack, startStack, startWorker } from './harness';

const MACHINES = 100;
const CLIENTS = 20;
const COMMANDS = 500;
/** Machines that sometimes answer "failed" (then stay in ERROR and refuse further commands). */
const FLAKY = new Set([7, 23, 42, 77, 99]);

describe('load', () => {
  let stack: Stack;
  let secondWorker: RunningOperationsWorker;

  beforeAll(async () => {
    stack = await startStack('load', { settings: { WORKER_CONCURRENCY: '8', SIM_LATENCY_MS: '30' } });
    // Two workers share the queue, as two replicas would.
    secondWorker = await startWorker(stack.settings);
    for (let id = 1; id <= MACHINES; id++) {
      stack.standIn.add({ id, owner_id: 1, endpoint: FLAKY.has(id) ? `sim://m${id}?fail_rate=0.3` : `sim://m${id}` });
    }
  });
  afterAll(async () => {
    await secondWorker?.stop();
    await stack?.stop();
  });

  it(`${COMMANDS} commands over ${MACHINES} machines from ${CLIENTS} clients: every accepted one ends exactly once`, async () => {
    const accepted: { id: number; location: string; machine: number }[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;

    async function finalOf(location: string): Promise<number> {
      return waitFor(
        async () => {
          const reply = await stack.call('GET', location, { token: stack.ownerToken });
          return reply.status === 200 && reply.body.result.result !== 4
            ? (reply.body.result.result as number)
            : undefined;
        },
        // Up to 100 commands are watched at once: polling faster only starves the processes under test.
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    }

    async function client(index: number): Promise<void> {
      // Each client drives its own 5 machines round robin; it asks a machine again once the
      // previous command there finished, choosing START or STOP from what it knows.
      const mine = Array.from({ length: MACHINES / CLIENTS }, (_, k) => index * (MACHINES / CLIENTS) + k + 1);
      const running = new Map<number, boolean>();
      const previous = new Map<number, Promise<number>>();
      for (let n = 0; sent < COMMANDS; n++) {
        sent++;
        const machine = mine[n % mine.length] as number;
        const before = previous.get(machine);
        if (before) {
          const result = await before;
          if (result === 1) running.set(machine, !running.get(machine));
        }
        const reply = await stack.operate(machine, running.get(machine) ? 'STOP' : 'START');
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status === 202) {
          const location = reply.headers.get('location') as string;
          accepted.push({ id: reply.body.result.id, location, machine });
          previous.set(machine, finalOf(location));
        } else {
          expect(reply.status).toBe(409);
          expect(FLAKY.has(machine)).toBe(true);
          previous.delete(machine);
        }
      }
      await Promise.all(previous.values());
    }

    const started = Date.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)));
    const elapsed = Date.now() - started;

    // Every command a reliable machine got was accepted.
    expect(accepted.length).toBeGreaterThanOrEqual(COMMANDS - 100);
    expect([...statuses.keys()].every((s) => s === 202 || s === 409)).toBe(true);

    const rows = await query<{ id: number; result: number; finished_at: Date | null }>(
      stack.env.DATABASE_URL,
      'select id, result, finished_at from operations.operation where result in (1, 2, 3, 4)',
    );
    expect(rows.filter((r) => r.result === 4)).toEqual([]);
    expect(rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(accepted.map((a) => a.id).sort((a, b) => a - b));
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);

    // Exactly one completion event per command: recorded once, delivered once.
    const events = await query<{ operation_id: number; n: number }>(
      stack.env.DATABASE_URL,
      `select (payload->'data'->>'operation_id')::int as operation_id, count(*)::int as n
       from operations.outbox_message where type = 'operations.operation.completed' group by 1`,
    );
    expect(events).toHaveLength(accepted.length);
    expect(events.every((e) => e.n === 1)).toBe(true);
    await waitFor(() => stack.standIn.completions.length >= accepted.length, { timeoutMs: 30_000 });
    const delivered = new Map<number, number>();
    for (const event of stack.standIn.completions) {
      delivered.set(event.data.operation_id, (delivered.get(event.data.operation_id) ?? 0) + 1);
    }
    expect(delivered.size).toBe(accepted.length);
    expect([...delivered.values()].every((n) => n === 1)).toBe(true);
    console.info(
      `load: ${COMMANDS} requests, ${accepted.length} accepted, ${rows.filter((r) => r.result === 1).length} SUCCESS, in ${elapsed} ms`,
    );
  }, 240_000);
});

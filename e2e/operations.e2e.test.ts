import { freePort, type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import {
  completionsRecorded,
  createMachine,
  type RemoteMachine,
  sendCommand,
  startRemoteMachine,
  waitForFinal,
  waitForStatus,
} from './machine-control';

/**
 * Operations, drivers and history through the gateway, with every process running:
 * each row of the result table and the machine's status after it.
 */
const READY = 2;
const RUNNING = 4;
const ERROR = 5;

let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<ReturnType<typeof apiClient>['newUser']>>;
let other: typeof owner;
const remotes: RemoteMachine[] = [];

beforeAll(async () => {
  system = await startSystem({
    SIM_LATENCY_MS: '20',
    DRIVER_TIMEOUT_MS: '1500',
    DRIVER_ATTEMPTS: '2',
    DRIVER_BACKOFF_MS: '50',
    RATE_LIMIT_PER_MINUTE: '100000',
  });
  api = apiClient(system.url);
  owner = await api.newUser('owner');
  other = await api.newUser('other');
});
afterAll(async () => {
  await Promise.all(remotes.map((remote) => remote.close()));
  await system?.stop();
});

async function remote(reply?: { status?: number; body?: string }) {
  const machine = await startRemoteMachine(reply);
  remotes.push(machine);
  return machine;
}

describe('the result table', () => {
  it('SUCCESS: START makes the machine RUNNING, STOP makes it READY', async () => {
    const machineId = await createMachine(api, owner.access, { endpoint: 'sim://press?latency_ms=50' });
    const accepted = await sendCommand(api, owner.access, machineId, 'start');
    expect(accepted.status).toBe(202);
    expect(accepted.body.result).toMatchObject({
      command: 'START',
      result: 4,
      machine_id: machineId,
      worker: owner.id,
      finished_at: null,
    });
    const location = accepted.headers.get('location') as string;
    expect(location).toBe(`/api/machines/${machineId}/history/${accepted.body.result.id}/`);

    const done = await waitForFinal(api, owner.access, location);
    expect(done).toMatchObject({ result: 1, machine_owner_id: owner.id });
    expect(done.finished_at).not.toBeNull();
    await waitForStatus(api, owner.access, machineId, RUNNING);

    const stop = await sendCommand(api, owner.access, machineId, 'STOP');
    expect(stop.status).toBe(202);
    expect(await waitForFinal(api, owner.access, stop.headers.get('location') as string)).toMatchObject({ result: 1 });
    await waitForStatus(api, owner.access, machineId, READY);
  });

  it('REMOTEFAILED: the machine says it failed, and ends in ERROR', async () => {
    const machineId = await createMachine(api, owner.access, { endpoint: 'sim://press?latency_ms=10&fail_rate=1' });
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    expect(done.result).toBe(2);
    expect(done.message).toEqual(expect.any(String));
    await waitForStatus(api, owner.access, machineId, ERROR);
  });

  it('INTERNALFAILED: an unreachable machine, after retries; the status is unchanged', async () => {
    const closedPort = await freePort();
    const machineId = await createMachine(api, owner.access, { endpoint: `http://127.0.0.1:${closedPort}/imm` });
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    expect(done.result).toBe(3);
    expect(done.message).toEqual(expect.any(String));
    const machine = await api.call('GET', `/api/machines/${machineId}/`, { token: owner.access });
    expect(machine.body.result.status).toBe(READY);
  });

  it('PERMISSIONDENIED: another user gets 403, and the attempt is in the history', async () => {
    const machineId = await createMachine(api, owner.access);
    const refused = await sendCommand(api, other.access, machineId, 'START');
    expect(refused.status).toBe(403);
    expect(refused.body.error_code).toBe(4);
    const history = await api.call('GET', `/api/machines/${machineId}/history/`, { token: owner.access });
    expect(history.body.result.results).toEqual([
      expect.objectContaining({ result: 5, worker: other.id, machine_owner_id: owner.id, command: 'START' }),
    ]);
    // The other user sees their own refused attempt in their personal list.
    const own = await api.call('GET', `/api/machines/history/?machine_id=${machineId}`, { token: other.access });
    expect(own.body.result.results.map((e: { result: number }) => e.result)).toEqual([5]);
  });

  it('INVALIDCOMMAND: a command from the wrong state gets 409 and is recorded', async () => {
    const machineId = await createMachine(api, owner.access);
    const refused = await sendCommand(api, owner.access, machineId, 'STOP');
    expect(refused.status).toBe(409);
    expect(refused.body.error_code).toBe(11);
    const history = await api.call('GET', `/api/machines/${machineId}/history/`, { token: owner.access });
    expect(history.body.result.results[0]).toMatchObject({ result: 7, command: 'STOP' });
  });

  it('refuses a bad command with 400 and records nothing', async () => {
    const machineId = await createMachine(api, owner.access);
    for (const body of [{ command: 'JUMP' }, {}, { command: 1 }]) {
      const response = await api.call('POST', `/api/machines/${machineId}/operation/`, { token: owner.access, body });
      expect(response.status).toBe(400);
      expect(response.body.message.command).toEqual([expect.any(String)]);
    }
    const history = await api.call('GET', `/api/machines/${machineId}/history/`, { token: owner.access });
    expect(history.body.result.count).toBe(0);
    const unknown = await sendCommand(api, owner.access, 2_000_000_000, 'START');
    expect(unknown.status).toBe(404);
  });
});

describe('the HTTP driver (the older system protocol)', () => {
  const cases: [string, { status?: number; body: string }, number, number][] = [
    ['success', { body: '{"result": 1}' }, 1, RUNNING],
    ['failed', { body: '{"result": 2}' }, 2, ERROR],
    ['garbage', { body: '<html>oops</html>' }, 3, READY],
    ['an unknown result', { body: '{"result": 7}' }, 3, READY],
    ['a server error', { status: 500, body: '{"result": 1}' }, 3, READY],
  ];
  for (const [name, reply, result, status] of cases) {
    it(`maps ${name} to result ${result}`, async () => {
      const machine = await remote(reply);
      const machineId = await createMachine(api, owner.access, { endpoint: machine.url });
      const accepted = await sendCommand(api, owner.access, machineId, 'START');
      expect((await waitForFinal(api, owner.access, accepted.headers.get('location') as string)).result).toBe(result);
      await waitForStatus(api, owner.access, machineId, status);
      // The machine got the command whatever it answered: it is never asked again (it may have acted).
      expect(machine.received).toEqual(['START']);
    });
  }

  it('maps a machine that never answers to INTERNALFAILED "outcome unknown", sent once', async () => {
    const machine = await remote({});
    const machineId = await createMachine(api, owner.access, { endpoint: machine.url });
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    expect(done.result).toBe(3);
    expect(done.message).toBe('outcome unknown');
    expect(machine.received).toEqual(['START']);
  });
});

describe('one command at a time, exactly once', () => {
  it('replays a retried POST with the same Idempotency-Key', async () => {
    const machineId = await createMachine(api, owner.access);
    const headers = { 'Idempotency-Key': `key-${machineId}` };
    const first = await sendCommand(api, owner.access, machineId, 'START', headers);
    const again = await sendCommand(api, owner.access, machineId, 'START', headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    await waitForFinal(api, owner.access, first.headers.get('location') as string);
    const history = await api.call('GET', `/api/machines/${machineId}/history/`, { token: owner.access });
    expect(history.body.result.count).toBe(1);
  });

  it('accepts exactly one of two racing commands', async () => {
    const machineId = await createMachine(api, owner.access, { endpoint: 'sim://slow?latency_ms=500' });
    const responses = await Promise.all([1, 2, 3, 4].map(() => sendCommand(api, owner.access, machineId, 'START')));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([202, 409, 409, 409]);
    const accepted = responses.find((r) => r.status === 202);
    const done = await waitForFinal(api, owner.access, accepted?.headers.get('location') as string);
    expect(await completionsRecorded(system.env.DATABASE_URL as string, done.id)).toBe(1);
  });
});

describe('history', () => {
  it('shows a machine history to its owner and a superuser only, and keeps it after the machine is deleted', async () => {
    const machineId = await createMachine(api, owner.access);
    const accepted = await sendCommand(api, owner.access, machineId, 'START');
    await waitForFinal(api, owner.access, accepted.headers.get('location') as string);

    const admin = await api.call('POST', '/api/sign-in/', { body: { username: 'admin', password: '1qaz2wsx' } });
    const adminToken = admin.body.result.token.access;
    expect((await api.call('GET', `/api/machines/${machineId}/history/`, { token: other.access })).status).toBe(403);
    expect((await api.call('GET', `/api/machines/${machineId}/history/`, { token: adminToken })).status).toBe(200);
    expect((await api.call('GET', `/api/machines/${machineId}/history/`)).status).toBe(401);

    expect((await api.call('DELETE', `/api/machines/${machineId}/`, { token: owner.access })).status).toBe(204);
    const kept = await api.call('GET', `/api/machines/${machineId}/history/`, { token: owner.access });
    expect(kept.status).toBe(200);
    expect(kept.body.result.count).toBe(1);
    const alias = await api.call('GET', `/api/user/machines/history/?machine_id=${machineId}`, { token: owner.access });
    expect(alias.body.result.results).toEqual(kept.body.result.results);
  });

  it('lists the caller’s history newest first, paginated and filtered', async () => {
    const user = await api.newUser('hist');
    const machineId = await createMachine(api, user.access);
    for (const command of ['START', 'STOP', 'START']) {
      const accepted = await sendCommand(api, user.access, machineId, command);
      await waitForFinal(api, user.access, accepted.headers.get('location') as string);
      await waitForStatus(api, user.access, machineId, command === 'START' ? RUNNING : READY);
    }
    const page = await api.call('GET', '/api/machines/history/?page_size=2', { token: user.access });
    expect(page.body.result.count).toBe(3);
    expect(page.body.result.results.map((e: { command: string }) => e.command)).toEqual(['START', 'STOP']);
    expect(page.body.result.next).toContain('page=2');
    const stops = await api.call('GET', '/api/machines/history/?command=STOP', { token: user.access });
    expect(stops.body.result.count).toBe(1);
  });
});

describe('load', () => {
  it('finishes every accepted command of 20 clients on 100 machines exactly once, and statuses follow', async () => {
    const machines = await Promise.all(
      Array.from({ length: 100 }, () => createMachine(api, owner.access, { endpoint: 'sim://load?latency_ms=20' })),
    );
    const accepted: { id: number; machineId: number; command: string; location: string }[] = [];
    let next = 0;
    const client = async () => {
      while (next < 500) {
        const n = next++;
        const machineId = machines[n % 100] as number;
        const command = Math.floor(n / 100) % 2 === 0 ? 'START' : 'STOP';
        const response = await sendCommand(api, owner.access, machineId, command);
        expect([202, 409]).toContain(response.status);
        if (response.status === 202) {
          accepted.push({
            id: response.body.result.id,
            machineId,
            command,
            location: response.headers.get('location') as string,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
    expect(accepted.length).toBeGreaterThan(100);

    const finals = await Promise.all(accepted.map((a) => waitForFinal(api, owner.access, a.location, 120_000, 1000)));
    expect(finals.every((entry) => entry.result === 1)).toBe(true);

    // Exactly one completion per accepted command.
    const pg = await import('pg');
    const db = new pg.default.Client({ connectionString: system.env.DATABASE_URL });
    await db.connect();
    const { rows } = await db.query(
      `select (payload->'data'->>'operation_id')::int as id, count(*)::int as n from operations.outbox_message
        where type = 'operations.operation.completed' group by 1`,
    );
    await db.end();
    const completions = new Map(rows.map((row: { id: number; n: number }) => [row.id, row.n]));
    for (const a of accepted) expect(completions.get(a.id), `operation ${a.id}`).toBe(1);

    // Each machine shows its last successful command.
    for (const machineId of machines) {
      const last = accepted.filter((a) => a.machineId === machineId).sort((x, y) => y.id - x.id)[0];
      const expected = last === undefined || last.command === 'STOP' ? READY : RUNNING;
      await waitForStatus(api, owner.access, machineId, expected);
    }
  }, 240_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  query,
  type RunningProcess,
  type RunningSystem,
  startProcess,
  startSystem,
  waitFor,
} from '@imm/testing';
import { type OpcuaTestServer, startOpcuaTestServer } from '@imm/testing/opcua';
import { StatusCodes } from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';
import { createMachine, sendCommand, waitForFinal, waitForStatus } from './machine-control';

/**
 * EUROMAP 77 machines over OPC UA, through the gateway with every process running: an OPC UA
 * server of the test's own (127.0.0.1, in this process) plays the machines; the workers run as
 * processes of their own so the test can kill them.
 */
const POWEROFF = 1;
const READY = 2;
const PAUSE = 3;
const RUNNING = 4;
const ERROR = 5;
const OFFLINE_AFTER_MS = 2000;

const pkiFolder = mkdtempSync(join(tmpdir(), 'opcua-e2e-pki-'));
let server: OpcuaTestServer;
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let owner: Awaited<ReturnType<ReturnType<typeof apiClient>['newUser']>>;
const workers: RunningProcess[] = [];
const extraServers: OpcuaTestServer[] = [];
/** Every machine registered, by id: the test server and device name that play it. */
const registered = new Map<number, { on: OpcuaTestServer; name: string }>();

async function startWorker(): Promise<RunningProcess> {
  const port = await freePort();
  const worker = startProcess(system, 'worker', { PORT: String(port) });
  workers.push(worker);
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      ),
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  return worker;
}

/** A machine on the test server, registered through the API with its opc.tcp endpoint. */
async function opcuaMachine(name: string, init: Parameters<OpcuaTestServer['addMachine']>[1] = {}, on = server) {
  const machine = on.addMachine(name, init);
  const id = await createMachine(api, owner.access, { endpoint: `${on.url}?device=${name}` });
  registered.set(id, { on, name });
  return { machine, id };
}

async function operate(machineId: number, command: 'START' | 'STOP') {
  const accepted = await sendCommand(api, owner.access, machineId, command);
  expect(accepted.status).toBe(202);
  return waitForFinal(api, owner.access, accepted.headers.get('location') as string);
}

const holders = async () =>
  query<{ machine_id: number; holder: string | null }>(
    system.env.DATABASE_URL as string,
    'select machine_id, holder from operations.machine_watch where lease_until > now() order by machine_id',
  );

beforeAll(async () => {
  server = await startOpcuaTestServer();
  system = await startSystem(
    {
      OPCUA_PKI_DIR: pkiFolder,
      OPCUA_TRANSITION_TIMEOUT_MS: '1500',
      OPCUA_STARTUP_TIMEOUT_MS: '30000',
      OPCUA_OFFLINE_AFTER_MS: String(OFFLINE_AFTER_MS),
      OPCUA_MONITOR_SYNC_MS: '300',
      OPCUA_LEASE_MS: '3000',
      DRIVER_TIMEOUT_MS: '2000',
      DRIVER_ATTEMPTS: '2',
      DRIVER_BACKOFF_MS: '100',
      JOB_LOCK_MS: '2000',
      RATE_LIMIT_PER_MINUTE: '100000',
    },
    { processes: ['auth', 'machines', 'operations', 'gateway'] },
  );
  api = apiClient(system.url);
  owner = await api.newUser('opcua');
  await startWorker();
});

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL').catch(() => {});
  await system?.stop();
  for (const extra of extraServers) await extra.stop().catch(() => {});
  await server?.stop();
  rmSync(pkiFolder, { recursive: true, force: true });
});

describe('an opc.tcp:// machine', () => {
  it('is started and stopped: RUNNING then READY, each method called once', async () => {
    const { machine, id } = await opcuaMachine('press-1', { jobStatus: 8 });
    expect((await operate(id, 'START')).result).toBe(1);
    await waitForStatus(api, owner.access, id, RUNNING);
    expect((await operate(id, 'STOP')).result).toBe(1);
    await waitForStatus(api, owner.access, id, READY);
    expect(machine.calls).toEqual({ StartJob: 1, InterruptJob: 0, FinishJob: 1 });
  });

  it('StartJob refused with BadInvalidState (MANUAL) is REMOTEFAILED and ERROR; a MachineMode change keeps ERROR, a JobStatus change clears it', async () => {
    const { machine, id } = await opcuaMachine('press-manual', { jobStatus: 8, machineMode: 3 });
    machine.behaviour.StartJob = () => StatusCodes.BadInvalidState;
    const done = await operate(id, 'START');
    expect(done).toMatchObject({ result: 2, message: 'BadInvalidState' });
    await waitForStatus(api, owner.access, id, ERROR);

    // The operator switches to AUTOMATIC: observed and applied, but the job did not move.
    machine.setMachineMode(1);
    const [event] = await waitFor(async () => {
      const rows = await query<{ id: string }>(
        system.env.DATABASE_URL as string,
        `select id from operations.outbox_message where type = 'operations.machine.status_observed'
           and (payload->'data'->>'machine_id')::int = $1 and (payload->'data'->>'machine_mode')::int = 1`,
        [id],
      );
      return rows.length > 0 ? rows : undefined;
    });
    await waitFor(
      async () =>
        (
          await query(system.env.DATABASE_URL as string, 'select 1 from machines.processed_event where event_id = $1', [
            event?.id,
          ])
        ).length > 0,
    );
    expect((await api.call('GET', `/api/machines/${id}/`, { token: owner.access })).body.result.status).toBe(ERROR);

    // The machine starts its job from its own panel: the status follows.
    machine.setJobStatus(6);
    await waitForStatus(api, owner.access, id, RUNNING, 10_000);
  });

  it('a Good answer without a transition is REMOTEFAILED "no transition"', async () => {
    const { machine, id } = await opcuaMachine('press-stuck', { jobStatus: 8 });
    machine.behaviour.StartJob = () => StatusCodes.Good;
    expect(await operate(id, 'START')).toMatchObject({ result: 2, message: 'no transition' });
    await waitForStatus(api, owner.access, id, ERROR);
    expect(machine.calls.StartJob).toBe(1);
  });

  it('follows the machine: JobStatus 7 set at the panel makes it PAUSE within seconds', async () => {
    const { machine, id } = await opcuaMachine('press-panel', { jobStatus: 8 });
    expect((await operate(id, 'START')).result).toBe(1);
    await waitForStatus(api, owner.access, id, RUNNING);
    const changed = Date.now();
    machine.setJobStatus(7);
    // Seconds, also on a loaded machine: the observation may wait for the START's result to be applied.
    await waitForStatus(api, owner.access, id, PAUSE, 10_000);
    expect(Date.now() - changed).toBeLessThan(10_000);
    // A STOP from PAUSE ends the job.
    expect((await operate(id, 'STOP')).result).toBe(1);
    await waitForStatus(api, owner.access, id, READY);
  });

  it('a stopped server: commands are INTERNALFAILED after the retries, the machine POWEROFF after the offline time, and back from a fresh read', async () => {
    const port = await freePort();
    let own = await startOpcuaTestServer({ port });
    extraServers.push(own);
    const { id } = await opcuaMachine('press-gone', { jobStatus: 8 }, own);
    await waitFor(() => own.modeWatchers('press-gone').length === 1, { timeoutMs: 10_000 });

    await own.stop();
    extraServers.splice(extraServers.indexOf(own), 1);
    const lost = Date.now();
    const done = await operate(id, 'START');
    expect(done.result).toBe(3);
    // A fixed reason for users; the detail goes to the worker's log.
    expect(done.message).toBe('no answer');
    await waitForStatus(api, owner.access, id, POWEROFF, 15_000);
    expect(Date.now() - lost).toBeGreaterThanOrEqual(OFFLINE_AFTER_MS);

    // Back, with a job running (started at its panel meanwhile): read afresh, not remembered.
    own = await startOpcuaTestServer({ port });
    extraServers.push(own);
    own.addMachine('press-gone', { jobStatus: 6 });
    registered.set(id, { on: own, name: 'press-gone' });
    await waitForStatus(api, owner.access, id, RUNNING, 15_000);
  });

  it('machines created, changed and deleted are picked up without a restart', async () => {
    const { id } = await opcuaMachine('press-moved', { jobStatus: 8 });
    await waitFor(() => server.modeWatchers('press-moved').length === 1, { timeoutMs: 10_000 });
    server.addMachine('press-new-place', { jobStatus: 7 });
    const moved = await api.call('PATCH', `/api/machines/${id}/`, {
      token: owner.access,
      body: { endpoint: `${server.url}?device=press-new-place` },
    });
    expect(moved.status).toBe(200);
    await waitForStatus(api, owner.access, id, PAUSE, 10_000);
    await waitFor(
      () => server.modeWatchers('press-moved').length === 0 && server.modeWatchers('press-new-place').length === 1,
      { timeoutMs: 10_000 },
    );
    expect((await api.call('DELETE', `/api/machines/${id}/`, { token: owner.access })).status).toBe(204);
    await waitFor(() => server.modeWatchers('press-new-place').length === 0, { timeoutMs: 10_000 });
  });
});

describe('several worker replicas', () => {
  it('hold one subscription per machine between them, and take over the machines of one that was killed', async () => {
    const first = workers[0] as RunningProcess;
    await startWorker();
    for (const name of ['press-r1', 'press-r2', 'press-r3', 'press-r4']) await opcuaMachine(name, { jobStatus: 8 });
    const watchersOf = (id: number) => {
      const machine = registered.get(id);
      return machine ? machine.on.modeWatchers(machine.name) : [];
    };
    // Both replicas hold a share, and every machine has exactly one subscription between them.
    const heldBefore = await waitFor(
      async () => {
        const rows = await holders();
        const distinct = new Set(rows.map((r) => r.holder));
        const one = rows.every((r) => watchersOf(r.machine_id).length === 1);
        return distinct.size === 2 && rows.length >= 8 && one ? rows : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    for (const row of heldBefore) expect(watchersOf(row.machine_id)).toHaveLength(1);
    const before = new Map(heldBefore.map((r) => [r.machine_id, watchersOf(r.machine_id)[0]]));

    await first.kill('SIGKILL');
    workers.splice(workers.indexOf(first), 1);
    // Within the lease (3 s) and a monitor pass, the survivor subscribes to the dead one's machines.
    const killed = Date.now();
    const survivor = await waitFor(
      async () => {
        const rows = await holders();
        const distinct = [...new Set(rows.map((r) => r.holder))];
        return rows.length === heldBefore.length && distinct.length === 1 ? distinct[0] : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    // The dead replica's machines get a new subscription from the survivor; its own keep theirs.
    const takenOver = heldBefore.filter((r) => r.holder !== survivor).map((r) => r.machine_id);
    const kept = heldBefore.filter((r) => r.holder === survivor).map((r) => r.machine_id);
    expect(takenOver.length).toBeGreaterThan(0);
    await waitFor(() => takenOver.every((id) => watchersOf(id).some((session) => session !== before.get(id))), {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    for (const id of kept) expect(watchersOf(id)).toEqual([before.get(id)]);
    expect(Date.now() - killed).toBeLessThan(15_000);
  });

  it('a worker killed with kill -9 during a transition: the next one finishes the START without calling StartJob again', async () => {
    const { machine, id } = await opcuaMachine('press-crash', { jobStatus: 8 });
    machine.behaviour.StartJob = (m) => {
      m.setJobStatus(5); // START_UP_ACTIVE: the press heats up before it produces
      setTimeout(() => m.setJobStatus(6), 20_000);
      return StatusCodes.Good;
    };
    const accepted = await sendCommand(api, owner.access, id, 'START');
    expect(accepted.status).toBe(202);
    await waitFor(() => machine.calls.StartJob === 1, { timeoutMs: 20_000, intervalMs: 50 });
    for (const worker of workers.splice(0)) await worker.kill('SIGKILL');
    await startWorker();
    // The next worker takes the job over while the press is still starting up.
    expect(machine.jobStatus).toBe(5);
    const done = await waitForFinal(api, owner.access, accepted.headers.get('location') as string);
    expect(done.result).toBe(1);
    expect(machine.calls.StartJob).toBe(1);
    await waitForStatus(api, owner.access, id, RUNNING);
  });
});

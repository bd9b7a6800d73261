import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationResult } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import { StatusCodes } from 'node-opcua';
import { waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driveCommand } from '../src/domain/drive-command';
import {
  createDriverRegistry,
  createOpcuaSessionPool,
  driverFactories,
  type OpcuaSessionPool,
  type OpcuaSettings,
  restrictTo,
  unrestricted,
} from '../src/adapters/drivers';
import { type OpcuaTestServer, startOpcuaTestServer } from '@imm/testing/opcua';

const logger = createLogger('opcua-driver-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const pkiFolder = mkdtempSync(join(tmpdir(), 'opcua-client-pki-'));
const settings: OpcuaSettings = {
  pkiFolder,
  trustUnknownServers: true,
  connectTimeoutMs: 3000,
  sessionIdleMs: 60_000,
  transitionTimeoutMs: 1500,
  startupTimeoutMs: 5000,
};
const drive = { attempts: 3, timeoutMs: 3000, backoffMs: 50 };
/** The entry's sent marks, kept in memory: this file tests the driver, not the worker's bookkeeping. */
const marks = { markSent: async () => 'sent' as const, clearSent: async () => {} };
let server: OpcuaTestServer;
let sessions: OpcuaSessionPool;
const never = new AbortController().signal;

function registry(policy = unrestricted, pool = sessions) {
  return createDriverRegistry(driverFactories, {
    policy,
    sim: { latencyMs: 0, failRate: 0 },
    opcua: { settings, sessions: pool },
  });
}

function run(endpoint: string, command: 'START' | 'STOP', policy = unrestricted) {
  const drivers = registry(policy);
  return driveCommand(() => drivers.driverFor(endpoint), command, drive, marks, never, 60_000);
}

beforeAll(async () => {
  server = await startOpcuaTestServer();
  sessions = createOpcuaSessionPool(settings, logger);
});

afterAll(async () => {
  await sessions?.closeAll();
  await server?.stop();
  rmSync(pkiFolder, { recursive: true, force: true });
});

describe('the OPC UA driver (EUROMAP 77)', () => {
  it('START calls StartJob and succeeds at JOB_IN_PRODUCTION; STOP calls FinishJob and succeeds at JOB_FINISHED', async () => {
    const machine = server.addMachine('press-basic', { jobStatus: 8 });
    const endpoint = `${server.url}?device=press-basic`;
    expect(await run(endpoint, 'START')).toEqual({ result: OperationResult.SUCCESS, message: null });
    expect(machine.jobStatus).toBe(6);
    expect(machine.calls.StartJob).toBe(1);
    expect(await run(endpoint, 'STOP')).toEqual({ result: OperationResult.SUCCESS, message: null });
    expect(machine.jobStatus).toBe(8);
    expect(machine.calls.FinishJob).toBe(1);
  });

  it('resumes an interrupted job with StartJob, and succeeds without a call when the machine is already there', async () => {
    const machine = server.addMachine('press-resume', { jobStatus: 7 });
    const endpoint = `${server.url}?device=press-resume`;
    expect((await run(endpoint, 'START')).result).toBe(OperationResult.SUCCESS);
    expect(machine.calls.StartJob).toBe(1);
    expect((await run(endpoint, 'START')).result).toBe(OperationResult.SUCCESS);
    expect(machine.calls.StartJob).toBe(1);
  });

  it('catches a transition faster than the publishing interval (subscribed before the call)', async () => {
    const machine = server.addMachine('press-quick', { jobStatus: 8 });
    machine.behaviour.StartJob = (m) => {
      m.setJobStatus(6);
      setTimeout(() => m.setJobStatus(7), 5);
      return StatusCodes.Good;
    };
    expect((await run(`${server.url}?device=press-quick`, 'START')).result).toBe(OperationResult.SUCCESS);
  });

  it('a Bad method result is REMOTEFAILED with the status name, and is not retried', async () => {
    const machine = server.addMachine('press-manual', { jobStatus: 8, machineMode: 3 });
    machine.behaviour.StartJob = () => StatusCodes.BadInvalidState;
    const outcome = await run(`${server.url}?device=press-manual`, 'START');
    expect(outcome).toEqual({ result: OperationResult.REMOTEFAILED, message: 'BadInvalidState' });
    expect(machine.calls.StartJob).toBe(1);
  });

  it('a Good result without the transition is REMOTEFAILED "no transition" after OPCUA_TRANSITION_TIMEOUT_MS', async () => {
    const machine = server.addMachine('press-stuck', { jobStatus: 8 });
    machine.behaviour.StartJob = () => StatusCodes.Good;
    const started = Date.now();
    const outcome = await run(`${server.url}?device=press-stuck`, 'START');
    expect(outcome).toEqual({ result: OperationResult.REMOTEFAILED, message: 'no transition' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(settings.transitionTimeoutMs - 50);
    expect(machine.calls.StartJob).toBe(1);
  });

  it('waits past the transition timeout while the machine reports START_UP_ACTIVE', async () => {
    const machine = server.addMachine('press-startup', { jobStatus: 8 });
    machine.behaviour.StartJob = (m) => {
      m.setJobStatus(5);
      setTimeout(() => m.setJobStatus(6), settings.transitionTimeoutMs + 1000);
      return StatusCodes.Good;
    };
    expect((await run(`${server.url}?device=press-startup`, 'START')).result).toBe(OperationResult.SUCCESS);
    expect(machine.calls.StartJob).toBe(1);
  });

  it('a START that finds the machine starting up already (a start under way) waits for it and calls nothing', async () => {
    const machine = server.addMachine('press-underway', { jobStatus: 5 });
    setTimeout(() => machine.setJobStatus(6), 500);
    expect((await run(`${server.url}?device=press-underway`, 'START')).result).toBe(OperationResult.SUCCESS);
    expect(machine.calls.StartJob).toBe(0);
  });

  it('a machine that moves but never answers the call succeeds; one that does neither is "outcome unknown", never called twice', async () => {
    const silent = server.addMachine('press-silent-moves', { jobStatus: 8 });
    silent.behaviour.StartJob = (m) => {
      setTimeout(() => m.setJobStatus(6), 100);
      return new Promise(() => {});
    };
    expect((await run(`${server.url}?device=press-silent-moves`, 'START')).result).toBe(OperationResult.SUCCESS);
    expect(silent.calls.StartJob).toBe(1);

    const dead = server.addMachine('press-silent', { jobStatus: 8 });
    dead.behaviour.StartJob = () => new Promise(() => {});
    const outcome = await run(`${server.url}?device=press-silent`, 'START');
    expect(outcome).toEqual({
      result: OperationResult.INTERNALFAILED,
      // A fixed reason; the detail (no answer to StartJob, no transition) is in the worker's log.
      message: 'no answer',
      detail: `outcome unknown: no answer to StartJob and no transition within ${settings.transitionTimeoutMs} ms`,
    });
    expect(dead.calls.StartJob).toBe(1);
  });

  it('finds the only machine under DeviceSet without ?device=, and refuses to guess among several', async () => {
    const single = await startOpcuaTestServer();
    try {
      const machine = single.addMachine('only-press', { jobStatus: 8 });
      expect((await run(single.url, 'START')).result).toBe(OperationResult.SUCCESS);
      expect(machine.calls.StartJob).toBe(1);
      single.addMachine('second-press');
      // Nodes are looked up once per session: a new session sees the second machine.
      const pool = createOpcuaSessionPool(settings, logger);
      const outcome = await driveCommand(
        () => registry(unrestricted, pool).driverFor(single.url),
        'STOP',
        drive,
        marks,
        never,
        60_000,
      );
      await pool.closeAll();
      expect(outcome.result).toBe(OperationResult.INTERNALFAILED);
      expect(outcome.message).toBe('endpoint not usable');
      expect(outcome.detail).toMatch(/several machines \(only-press, second-press\)/);
    } finally {
      await single.stop();
    }
  });

  it('a node or method missing on the server is INTERNALFAILED at once, naming it', async () => {
    server.addMachine('press-nofinish', { jobStatus: 6, without: ['FinishJob'] });
    const started = Date.now();
    const missing = await run(`${server.url}?device=press-nofinish`, 'STOP');
    expect(missing).toEqual({
      result: OperationResult.INTERNALFAILED,
      message: 'endpoint not usable',
      detail: 'node Jobs/ActiveJobValues/FinishJob not found under Objects/DeviceSet/press-nofinish',
    });
    expect(Date.now() - started).toBeLessThan(drive.backoffMs * 4 + 2000);
    const unknown = await run(`${server.url}?device=no-such-press`, 'START');
    expect(unknown).toEqual({
      result: OperationResult.INTERNALFAILED,
      message: 'endpoint not usable',
      detail: 'node Objects/DeviceSet/no-such-press not found on the server',
    });
  });

  it('bad endpoints are refused before anything is sent', async () => {
    expect(await run(`${server.url}?device=x&security=weird`, 'START')).toMatchObject({
      message: 'endpoint not usable',
      detail: expect.stringMatching(/security must be/),
    });
    expect(await run(`${server.url}?machine=x`, 'START')).toMatchObject({
      message: 'endpoint not usable',
      detail: expect.stringMatching(/unknown parameter "machine"/),
    });
    const outside = await run(`${server.url}?device=press-basic`, 'START', restrictTo(['10.0.0.0/8']));
    expect(outside).toEqual({
      result: OperationResult.INTERNALFAILED,
      message: 'not allowed by the network policy',
      detail: 'endpoint host 127.0.0.1 is outside MACHINE_NETWORKS (10.0.0.0/8)',
    });
  });

  it('reuses one session per endpoint for the commands that follow', async () => {
    server.addMachine('press-reuse-a', { jobStatus: 8 });
    server.addMachine('press-reuse-b', { jobStatus: 8 });
    await run(`${server.url}?device=press-reuse-a`, 'START');
    const opened = server.sessionsCreated();
    expect((await run(`${server.url}?device=press-reuse-b`, 'START')).result).toBe(OperationResult.SUCCESS);
    expect((await run(`${server.url}?device=press-reuse-a`, 'STOP')).result).toBe(OperationResult.SUCCESS);
    expect(server.sessionsCreated()).toBe(opened);
  });

  it('closes an idle session', async () => {
    const pool = createOpcuaSessionPool({ ...settings, sessionIdleMs: 300 }, logger);
    try {
      server.addMachine('press-idle', { jobStatus: 8 });
      const drivers = registry(unrestricted, pool);
      const before = server.sessionsCreated();
      await driveCommand(
        () => drivers.driverFor(`${server.url}?device=press-idle`),
        'START',
        drive,
        marks,
        never,
        60_000,
      );
      expect(server.sessionsCreated()).toBe(before + 1);
      const open = server.currentSessions();
      await waitFor(() => server.currentSessions() < open, { timeoutMs: 5000, intervalMs: 50 });
    } finally {
      await pool.closeAll();
    }
  });

  it('works over a signed and encrypted channel (Basic256Sha256) with a user name and password', async () => {
    const secure = await startOpcuaTestServer({ security: true, users: { operator: 'secret-42' } });
    const pool = createOpcuaSessionPool({ ...settings, userName: 'operator', password: 'secret-42' }, logger);
    try {
      const machine = secure.addMachine('press-secure', { jobStatus: 8 });
      const drivers = createDriverRegistry(driverFactories, {
        policy: unrestricted,
        sim: { latencyMs: 0, failRate: 0 },
        opcua: { settings: { ...settings, userName: 'operator', password: 'secret-42' }, sessions: pool },
      });
      const endpoint = `${secure.url}?device=press-secure&security=signandencrypt`;
      const outcome = await driveCommand(() => drivers.driverFor(endpoint), 'START', drive, marks, never, 60_000);
      expect(outcome).toEqual({ result: OperationResult.SUCCESS, message: null });
      expect(machine.calls.StartJob).toBe(1);
      // Without security the server offers no endpoint: no session, a transport failure.
      const plain = await driveCommand(
        () => drivers.driverFor(`${secure.url}?device=press-secure`),
        'STOP',
        { ...drive, attempts: 1 },
        marks,
        never,
        60_000,
      );
      expect(plain.result).toBe(OperationResult.INTERNALFAILED);
      expect(machine.calls.FinishJob).toBe(0);
    } finally {
      await pool.closeAll();
      await secure.stop();
    }
  });

  it('a server that is down is INTERNALFAILED after the retries', async () => {
    const gone = await startOpcuaTestServer();
    gone.addMachine('press-gone');
    const url = gone.url;
    await gone.stop();
    const started = Date.now();
    const outcome = await run(`${url}?device=press-gone`, 'START');
    expect(outcome.result).toBe(OperationResult.INTERNALFAILED);
    expect(outcome.message).toBe('no answer');
    expect(outcome.detail).toMatch(/^no usable answer from the machine after 3 attempts: /);
    expect(Date.now() - started).toBeLessThan(3 * settings.connectTimeoutMs + 1000);
  });
});

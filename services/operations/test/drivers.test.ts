import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ConfigError } from '@imm/config';
import { freePort, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config';
import { DriveCancelledError, driveCommand, LeaseLostError } from '../src/domain/drive-command';
import {
  createDriverRegistry,
  driverFactories,
  EndpointRejectedError,
  type MachineDriver,
  NotSentError,
  networkPolicy,
  restrictTo,
  TransportError,
  unrestricted,
} from '../src/adapters/drivers';
import type { RunningOperationsApi } from '../src/main';
import type { RunningOperationsWorker } from '../src/worker';
import {
  baseEnv,
  cleanUp,
  client,
  listenOn,
  type MachinesStandIn,
  serviceEnv,
  startApi,
  startIssuer,
  startMachinesStandIn,
  startWorker,
  type TestEnv,
  type TestIssuer,
} from './harness';

/** A machine speaking the older system's protocol; its behaviour is chosen by the path. */
interface Received {
  path: string;
  contentType: string | undefined;
  body: string;
  requestId: string | undefined;
}
const received: Received[] = [];
let machineServer: Server;
let machinePort: number;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
  });
}

async function startMachineServer(): Promise<void> {
  machineServer = createServer(async (req, res) => {
    const body = await readBody(req);
    received.push({
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      body,
      requestId: req.headers['x-request-id'] as string | undefined,
    });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    switch (req.url?.split('?')[0]) {
      case '/ok':
        return json(200, { result: 1 });
      case '/failed':
        return json(200, { result: 2 });
      case '/garbage':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>hello</html>');
      case '/unknown-result':
        return json(200, { result: 3 });
      case '/server-error':
        return json(500, { result: 1 });
      case '/slow':
        return; // never answers
      case '/flaky': {
        // Fails the first time for each command, then succeeds: a retry reaches the machine.
        const tries = received.filter((r) => r.path === req.url).length;
        return tries === 1 ? json(503, {}) : json(200, { result: 1 });
      }
      default:
        return json(404, {});
    }
  });
  machinePort = await listenOn(machineServer);
}

let issuer: TestIssuer;
let env: TestEnv;
let standIn: MachinesStandIn;
let api: RunningOperationsApi;
let worker: RunningOperationsWorker;
let call: ReturnType<typeof client>;
let token: string;
let nextMachineId = 1;

beforeAll(async () => {
  await startMachineServer();
  issuer = await startIssuer();
  env = baseEnv('drivers', issuer.jwksUrl);
  standIn = await startMachinesStandIn(env.NATS_URL, env.BUS_PREFIX);
  const settings = serviceEnv(env, { DRIVER_TIMEOUT_MS: '500', DRIVER_ATTEMPTS: '3', DRIVER_BACKOFF_MS: '50' });
  api = await startApi(settings);
  worker = await startWorker(settings);
  call = client(`http://127.0.0.1:${api.port}`);
  token = issuer.token({ id: 1 });
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await standIn?.stop();
  await issuer?.close();
  machineServer?.closeAllConnections();
  await new Promise((resolve) => machineServer?.close(resolve));
  if (env) await cleanUp(env);
});

/** Runs START against a machine with this endpoint and returns the final history entry. */
async function run(endpoint: string, requestId?: string) {
  const machine = standIn.add({ id: nextMachineId++, owner_id: 1, endpoint });
  const reply = await call('POST', `/api/machines/${machine.id}/operation/`, {
    token,
    body: { command: 'START' },
    headers: requestId ? { 'x-request-id': requestId } : {},
  });
  expect(reply.status).toBe(202);
  const location = reply.headers.get('location') as string;
  const entry = await waitFor(async () => {
    const got = await call('GET', location, { token });
    return got.body.result.result !== 4 ? got.body.result : undefined;
  });
  return { entry, machine };
}

const hits = (path: string) => received.filter((r) => r.path === path).length;

describe('the HTTP driver', () => {
  it('success: POSTs command=START form-encoded, with the request id; result 1 is SUCCESS', async () => {
    const { entry, machine } = await run(`http://127.0.0.1:${machinePort}/ok`, 'req-http-ok');
    expect(entry).toMatchObject({ result: 1, message: null });
    const request = received.find((r) => r.requestId === 'req-http-ok');
    expect(request).toMatchObject({
      path: '/ok',
      contentType: 'application/x-www-form-urlencoded',
      body: 'command=START',
    });
    await waitFor(() => machine.status === 4);
  });

  it('failed: result 2 is REMOTEFAILED, not retried', async () => {
    const before = hits('/failed');
    const { entry, machine } = await run(`http://127.0.0.1:${machinePort}/failed`);
    expect(entry).toMatchObject({ result: 2 });
    expect(hits('/failed') - before).toBe(1);
    await waitFor(() => machine.status === 5);
  });

  it('garbage, an unknown result or a 5xx: the machine got the request, so it is sent once; the history reads "bad reply"', async () => {
    for (const path of ['/garbage', '/unknown-result', '/server-error']) {
      const before = hits(path);
      const { entry, machine } = await run(`http://127.0.0.1:${machinePort}${path}`);
      expect(entry.result, path).toBe(3);
      // A short fixed reason: the machine got the request and answered nothing readable; the detail is logged.
      expect(entry.message, path).toBe('bad reply');
      expect(hits(path) - before, path).toBe(1);
      expect(machine.status).toBe(2);
    }
  });

  it('timeout after the request went out: sent once, never again; INTERNALFAILED "outcome unknown"', async () => {
    const before = hits('/slow');
    const { entry } = await run(`http://127.0.0.1:${machinePort}/slow`);
    expect(entry).toMatchObject({ result: 3, message: 'outcome unknown' });
    // The machine may act on it late: a second send would drive it twice.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(hits('/slow') - before).toBe(1);
  });

  it('connection refused: nothing reached the machine, so every attempt is made, then INTERNALFAILED', async () => {
    const closedPort = await freePort();
    const { entry } = await run(`http://127.0.0.1:${closedPort}/ok`);
    expect(entry).toMatchObject({ result: 3, message: 'refused' });
  });

  it('a machine that answers 503 is not asked again (it may have acted)', async () => {
    const path = `/flaky?m=${nextMachineId}`;
    const { entry } = await run(`http://127.0.0.1:${machinePort}${path}`);
    expect(entry).toMatchObject({ result: 3, message: 'bad reply' });
    expect(received.filter((r) => r.path === path)).toHaveLength(1);
  });
});

describe('what the HTTP driver counts as sent', () => {
  const registry = createDriverRegistry(driverFactories, { policy: unrestricted, sim: { latencyMs: 0, failRate: 0 } });

  it('before the connection is up nothing was sent: refused, unknown host, TLS handshake', async () => {
    const closedPort = await freePort();
    const refused = registry.driverFor(`http://127.0.0.1:${closedPort}/ok`).execute('START', AbortSignal.timeout(2000));
    await expect(refused).rejects.toBeInstanceOf(NotSentError);
    const unknownHost = registry
      .driverFor('http://no-such-host.invalid/ok')
      .execute('START', AbortSignal.timeout(5000));
    await expect(unknownHost).rejects.toBeInstanceOf(NotSentError);
    // https to a plain-HTTP machine: the handshake fails before any byte of the command goes out.
    const before = received.length;
    const handshake = registry
      .driverFor(`https://127.0.0.1:${machinePort}/ok`)
      .execute('START', AbortSignal.timeout(2000));
    await expect(handshake).rejects.toBeInstanceOf(NotSentError);
    expect(received.length).toBe(before);
  });

  it('once connected it may have been sent: a timeout or a bad answer is not a NotSentError', async () => {
    const slow = registry.driverFor(`http://127.0.0.1:${machinePort}/slow`).execute('START', AbortSignal.timeout(200));
    await expect(slow).rejects.toBeInstanceOf(TransportError);
    await expect(slow).rejects.not.toBeInstanceOf(NotSentError);
    const garbage = registry
      .driverFor(`http://127.0.0.1:${machinePort}/garbage`)
      .execute('START', AbortSignal.timeout(2000));
    await expect(garbage).rejects.not.toBeInstanceOf(NotSentError);
  });
});

describe('the retry policy (driveCommand)', () => {
  const policy = { attempts: 3, timeoutMs: 1000, backoffMs: 1 };
  const never = new AbortController().signal;
  function marks() {
    const log: string[] = [];
    return {
      log,
      markSent: async () => {
        log.push('mark');
        return 'sent' as const;
      },
      clearSent: async () => {
        log.push('clear');
      },
    };
  }
  function driverFailing(failures: Error[]): MachineDriver & { calls: number } {
    const driver = {
      calls: 0,
      async execute() {
        const failure = failures[driver.calls++];
        if (failure) throw failure;
        return 'success' as const;
      },
    };
    return driver;
  }

  it('tries again only while nothing reached the machine, marking each attempt and clearing the mark after it', async () => {
    const driver = driverFailing([new NotSentError('machine unreachable: ECONNREFUSED')]);
    const m = marks();
    const outcome = await driveCommand(() => driver, 'START', policy, m, never, 60_000);
    expect(outcome).toEqual({ result: 1, message: null });
    expect(driver.calls).toBe(2);
    expect(m.log).toEqual(['mark', 'clear', 'mark']);
  });

  it('never sends again once an attempt may have reached the machine', async () => {
    const driver = driverFailing([new TransportError('timed out'), new TransportError('timed out')]);
    const m = marks();
    const outcome = await driveCommand(() => driver, 'START', policy, m, never, 60_000);
    expect(outcome).toEqual({ result: 3, message: 'outcome unknown', detail: 'timed out after 1000 ms' });
    expect(driver.calls).toBe(1);
    expect(m.log).toEqual(['mark']); // the mark stays: it may have been sent
  });

  it('asks a driver that can read the machine what became of a command without an answer', async () => {
    const driver = {
      calls: 0,
      async execute(): Promise<'success'> {
        this.calls++;
        throw new TransportError('connection reset');
      },
      async observeOutcome() {
        return 'success' as const;
      },
    };
    const outcome = await driveCommand(() => driver, 'START', policy, marks(), never, 60_000);
    expect(outcome).toEqual({ result: 1, message: null });
    expect(driver.calls).toBe(1);
  });

  it('sends nothing past the deadline for starting, and nothing once the lease is lost', async () => {
    const driver = driverFailing([]);
    const overdue = { markSent: async () => 'overdue' as const, clearSent: async () => {} };
    expect(await driveCommand(() => driver, 'START', policy, overdue, never, 60_000)).toEqual({
      result: 3,
      message: 'not started within 60 s of being accepted',
    });
    const lost = { markSent: async () => 'lost' as const, clearSent: async () => {} };
    await expect(driveCommand(() => driver, 'START', policy, lost, never, 60_000)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(driver.calls).toBe(0);
  });

  it('does not mark a first attempt the claim marked already', async () => {
    const m = marks();
    expect(
      await driveCommand(() => driverFailing([]), 'START', policy, { ...m, first: 'sent' }, never, 60_000),
    ).toEqual({ result: 1, message: null });
    expect(m.log).toEqual([]);
    // A retry after a failure that sent nothing is marked as before.
    const retried = marks();
    const driver = driverFailing([new NotSentError('machine unreachable: ECONNREFUSED')]);
    await driveCommand(() => driver, 'START', policy, { ...retried, first: 'sent' }, never, 60_000);
    expect(driver.calls).toBe(2);
    expect(retried.log).toEqual(['clear', 'mark']);
  });

  it('withdraws a first mark made in advance when nothing is sent after all', async () => {
    const refused = marks();
    const rejected = () => {
      throw new EndpointRejectedError('not a machine address');
    };
    expect(await driveCommand(rejected, 'START', policy, { ...refused, first: 'sent' }, never, 60_000)).toMatchObject({
      result: 3,
    });
    expect(refused.log).toEqual(['clear']);
    const cancelled = marks();
    const driver = driverFailing([]);
    const stop = new AbortController();
    stop.abort();
    await expect(
      driveCommand(() => driver, 'START', policy, { ...cancelled, first: 'sent' }, stop.signal, 60_000),
    ).rejects.toBeInstanceOf(DriveCancelledError);
    expect(cancelled.log).toEqual(['clear']);
    expect(driver.calls).toBe(0);
  });

  it('sends nothing when the claim found the deadline for starting passed', async () => {
    const m = marks();
    const driver = driverFailing([]);
    expect(await driveCommand(() => driver, 'START', policy, { ...m, first: 'overdue' }, never, 60_000)).toEqual({
      result: 3,
      message: 'not started within 60 s of being accepted',
    });
    expect(m.log).toEqual([]);
    expect(driver.calls).toBe(0);
  });
});

describe('MACHINE_NETWORKS', () => {
  const context = (cidrs: string[]) => ({ policy: networkPolicy(cidrs), sim: { latencyMs: 0, failRate: 0 } });
  const never = new AbortController().signal;

  it('refuses hosts outside the networks, by address and by resolved name, without connecting', async () => {
    const before = received.length;
    const registry = createDriverRegistry(driverFactories, context(['10.0.0.0/8', 'fd00::/8']));
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      const driver = registry.driverFor(`http://${host}:${machinePort}/ok`);
      await expect(driver.execute('START', never), host).rejects.toBeInstanceOf(EndpointRejectedError);
    }
    expect(received.length).toBe(before);
  });

  it('allows hosts inside them, by address and by resolved name', async () => {
    const registry = createDriverRegistry(driverFactories, context(['127.0.0.0/8']));
    expect(await registry.driverFor(`http://127.0.0.1:${machinePort}/ok`).execute('STOP', never)).toBe('success');
    expect(await registry.driverFor(`http://localhost:${machinePort}/ok`).execute('STOP', never)).toBe('success');
  });

  it('matches IPv4, IPv6 and IPv4-mapped addresses', () => {
    const policy = restrictTo(['192.168.10.0/24', 'fd00::/8']);
    expect(policy.allows('192.168.10.7')).toBe(true);
    expect(policy.allows('192.168.11.7')).toBe(false);
    expect(policy.allows('::ffff:192.168.10.7')).toBe(true);
    expect(policy.allows('fd00::1')).toBe(true);
    expect(policy.allows('fe80::1')).toBe(false);
    expect(policy.allows('not an address')).toBe(false);
    expect(unrestricted.allows('8.8.8.8')).toBe(true);
  });

  it('is required in RELEASE and checked for CIDR syntax', () => {
    expect(() => loadWorkerConfig({ MODE: 'RELEASE' })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ MODE: 'RELEASE', MACHINE_NETWORKS: '10.0.0.0/8' })).not.toThrow();
    expect(() => loadWorkerConfig({ MACHINE_NETWORKS: '10.0.0.0/8, 300.1.1.1/8' })).toThrow(/300\.1\.1\.1/);
    expect(() => loadWorkerConfig({ MACHINE_NETWORKS: '10.0.0.0' })).toThrow(ConfigError);
    expect(loadWorkerConfig({ MACHINE_NETWORKS: ' 10.0.0.0/8 , fd00::/8 ' }).MACHINE_NETWORKS).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    expect(loadWorkerConfig({}).MACHINE_NETWORKS).toEqual([]);
  });
});

describe('the simulated machine', () => {
  const registry = createDriverRegistry(driverFactories, { policy: unrestricted, sim: { latencyMs: 5, failRate: 0 } });
  const never = new AbortController().signal;

  it('is the default for a machine without an endpoint, and reads its query', async () => {
    expect(await registry.driverFor(null).execute('START', never)).toBe('success');
    expect(await registry.driverFor('sim://press-7?fail_rate=1').execute('START', never)).toBe('failed');
    await expect(registry.driverFor('sim://press-7?error_rate=1').execute('START', never)).rejects.toBeInstanceOf(
      NotSentError,
    );
  });

  it('gives up when its signal aborts', async () => {
    const started = Date.now();
    await expect(
      registry.driverFor('sim://slow?latency_ms=10000').execute('START', AbortSignal.timeout(50)),
    ).rejects.toThrow(/timed out/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects endpoints no driver speaks', () => {
    expect(() => registry.driverFor('opcua://x')).toThrow(EndpointRejectedError);
    expect(() => registry.driverFor('not a url')).toThrow(EndpointRejectedError);
  });
});

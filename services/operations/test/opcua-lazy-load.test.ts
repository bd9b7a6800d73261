import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Bus, connectBus, serveRequests } from '@imm/bus';
import { freePort, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgumentsOf, processes } from '../../../processes';
import { buildDist } from '../../../scripts/build-dist';
import { createOpcuaSessionPool, TransportError, unrestricted } from '../src/adapters/drivers';
import { parseOpcuaEndpoint } from '../src/adapters/drivers/opcua-endpoint';
import { baseEnv, cleanUp, serviceEnv, silent, spawnWorker, type TestEnv } from './harness';

/**
 * node-opcua (some 70 MB resident) is loaded by the worker's first OPC UA machine, not at start:
 * a worker without `opc.tcp://` machines, run from its sources or from the production build, has
 * not loaded it nor made its PKI folder; given such a machine to watch, it loads both.
 */
const reporter = fileURLToPath(new URL('./loaded-packages.mjs', import.meta.url));
const workerProcess = processes.find((p) => p.name === 'worker');
if (!workerProcess) throw new Error('no worker in processes.ts');
const node = { client: 'node-opcua-client', certificates: 'node-opcua-certificate-manager' };

let env: TestEnv;
let bus: Bus;
let served: { stop(): Promise<void> };
/** What `machines.machine.endpoints` answers, and how often the monitor asked. */
let opcuaMachines: { id: number; endpoint: string }[] = [];
let asked = 0;
const pkiFolders: string[] = [];

beforeAll(async () => {
  env = baseEnv('lazyopcua', 'http://127.0.0.1:9/jwks.json');
  bus = await connectBus({ url: env.NATS_URL, prefix: env.BUS_PREFIX, name: 'machines-stand-in', logger: silent });
  served = serveRequests(bus, 'machines.machine.endpoints', async () => {
    asked++;
    return { machines: opcuaMachines };
  });
  await buildDist();
});

afterAll(async () => {
  await served?.stop();
  await bus?.close();
  if (env) await cleanUp(env);
  for (const folder of pkiFolders) rmSync(folder, { recursive: true, force: true });
});

function loadedPackages(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve, reject) => {
    child.once('message', (packages) => resolve(packages as string[]));
    child.send('loaded?', (error) => error && reject(error));
  });
}

describe('node-opcua is loaded on first use', () => {
  it.each([
    ['its sources', false],
    ['the production build', true],
  ])('a worker run from %s loads it only once an OPC UA machine is to be watched', async (_, compiled) => {
    opcuaMachines = [];
    const pkiFolder = join(mkdtempSync(join(tmpdir(), 'lazy-opcua-')), 'pki');
    pkiFolders.push(pkiFolder);
    const worker = await spawnWorker(
      serviceEnv(env, { OPCUA_PKI_DIR: pkiFolder, OPCUA_MONITOR_SYNC_MS: '200', OPCUA_LEASE_MS: '1000' }),
      { nodeArguments: ['--import', reporter, ...nodeArgumentsOf(workerProcess, compiled)], ipc: true },
    );
    const { child } = worker;
    try {
      await worker.ready();
      // The status monitor has looked for machines a few times and found none to watch.
      const before = asked;
      await waitFor(() => asked >= before + 3, { timeoutMs: 10_000, intervalMs: 50 });
      const idle = await loadedPackages(child);
      expect(idle).toContain('bullmq');
      expect(idle).not.toContain(node.client);
      expect(idle).not.toContain(node.certificates);
      expect(existsSync(pkiFolder)).toBe(false);

      // A machine nobody listens for: watching it loads node-opcua and makes the PKI folder.
      opcuaMachines = [{ id: 1, endpoint: `opc.tcp://127.0.0.1:${await freePort()}` }];
      await waitFor(async () => (await loadedPackages(child)).includes(node.client), {
        timeoutMs: 20_000,
        intervalMs: 200,
      });
      await waitFor(() => existsSync(pkiFolder), { timeoutMs: 10_000, intervalMs: 100 });
      expect(await loadedPackages(child)).toContain(node.certificates);
    } finally {
      child.kill('SIGTERM');
    }
    // Shutting down closes the pool it loaded.
    expect(await worker.exited, worker.output().slice(-4000)).toBe(0);
  });
});

describe('a session pool never used', () => {
  it('closes without loading anything, and lends no session after', async () => {
    const pkiFolder = join(mkdtempSync(join(tmpdir(), 'lazy-opcua-')), 'pki');
    pkiFolders.push(pkiFolder);
    const pool = createOpcuaSessionPool(
      {
        pkiFolder,
        trustUnknownServers: true,
        connectTimeoutMs: 1000,
        sessionIdleMs: 1000,
        transitionTimeoutMs: 1000,
        startupTimeoutMs: 1000,
      },
      silent,
    );
    await pool.closeAll();
    expect(existsSync(pkiFolder)).toBe(false);
    const endpoint = parseOpcuaEndpoint(new URL('opc.tcp://127.0.0.1:4840'));
    await expect(pool.acquire(endpoint, unrestricted, new AbortController().signal)).rejects.toThrow(TransportError);
    expect(existsSync(pkiFolder)).toBe(false);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dropTestDatabase, testInfrastructure } from './infrastructure';
import { freePort, waitFor } from './wait-for';

const root = fileURLToPath(new URL('../../..', import.meta.url));

export interface RunningSystem {
  /** The gateway's base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The environment every process was started with. */
  env: Record<string, string>;
  /** The combined, name-prefixed output of all processes so far. */
  output(): string;
  /** Resolves with the supervisor's exit code once it has exited (after stop(), or by itself). */
  exited: Promise<number | null>;
  /** Stops every process as Ctrl-C would, and drops the run's database unless told to keep it. */
  stop(options?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * Starts the whole system exactly as `npm start` does (scripts/start.ts), on free ports and with
 * this run's own database, stream prefix and Redis prefix, and waits until the gateway is ready.
 */
export async function startSystem(
  overrides: Record<string, string> = {},
  options: { processes?: ProcessName[] } = {},
): Promise<RunningSystem> {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const [gateway, auth, machines, operations, worker] = ports.map(String) as [string, string, string, string, string];
  const env: Record<string, string> = {
    ...testInfrastructure('e2e'),
    GATEWAY_PORT: gateway,
    AUTH_PORT: auth,
    MACHINES_PORT: machines,
    OPERATIONS_PORT: operations,
    WORKER_PORT: worker,
    // vitest sets MODE=test in its own environment; the system knows only DEV and RELEASE.
    MODE: 'DEV',
    LOG_LEVEL: 'info',
    BCRYPT_ROUNDS: '10',
    ...(options.processes && { PROCESSES: options.processes.join(',') }),
    ...overrides,
  };
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true, // its own process group, so stop() reaches every child
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const url = `http://127.0.0.1:${gateway}`;
  const withWorker = !options.processes || options.processes.includes('worker');
  const readinessUrls = [`${url}/readyz`, ...(withWorker ? [`http://127.0.0.1:${worker}/readyz`] : [])];
  const stop = async (options: { keepDatabase?: boolean } = {}) => {
    if (running && child.pid) {
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (!options.keepDatabase && env.DATABASE_URL) await dropTestDatabase(env.DATABASE_URL).catch(() => {});
  };

  try {
    await Promise.race([
      waitFor(
        async () => {
          // The gateway's readiness covers the services it proxies to; the worker answers its own.
          const ready = await Promise.all(
            readinessUrls.map((u) =>
              fetch(u).then(
                (r) => r.status === 200,
                () => false,
              ),
            ),
          );
          return ready.every(Boolean);
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      ),
      exited.then((code) => {
        throw new Error(`the system exited with code ${code} while starting`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw new Error(`system did not become ready: ${(error as Error).message}\n${output.slice(-8000)}`);
  }
  return { url, env, output: () => output, exited, stop };
}

export type ProcessName = 'auth' | 'machines' | 'operations' | 'worker' | 'gateway';

const entries: Record<ProcessName, { entry: string; port: string }> = {
  auth: { entry: 'services/auth/src/main.ts', port: 'AUTH_PORT' },
  machines: { entry: 'services/machines/src/main.ts', port: 'MACHINES_PORT' },
  operations: { entry: 'services/operations/src/main.ts', port: 'OPERATIONS_PORT' },
  worker: { entry: 'services/operations/src/worker.ts', port: 'WORKER_PORT' },
  gateway: { entry: 'gateway/src/main.ts', port: 'GATEWAY_PORT' },
};

export interface RunningProcess {
  pid: number;
  output(): string;
  /** Sends a signal (SIGKILL to crash it, SIGTERM to stop it) and waits until it has exited. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * One more process of a running system, outside its supervisor, so a test can crash or stop it
 * alone (start the system without it: `startSystem({}, { processes: [...] })`).
 */
export function startProcess(
  system: RunningSystem,
  name: ProcessName,
  overrides: Record<string, string> = {},
): RunningProcess {
  const { entry, port } = entries[name];
  const local = (key: string) => `http://127.0.0.1:${system.env[key]}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', '@imm/telemetry/register', entry], {
    cwd: root,
    env: {
      ...process.env,
      ...system.env,
      AUTH_URL: local('AUTH_PORT'),
      MACHINES_URL: local('MACHINES_PORT'),
      OPERATIONS_URL: local('OPERATIONS_PORT'),
      AUTH_JWKS_URL: `${local('AUTH_PORT')}/api/auth/jwks.json`,
      PORT: system.env[port] ?? '0',
      ...overrides,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid ?? 0,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

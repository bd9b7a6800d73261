import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeArgumentsOf, type ProcessName, processes, processNamed, urlVariableOf } from '../../../processes';
import { dropTestDatabase, testInfrastructure } from './infrastructure';
import { freePort, waitFor } from './wait-for';

export type { ProcessName } from '../../../processes';

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
  options: { processes?: ProcessName[]; compiled?: boolean } = {},
): Promise<RunningSystem> {
  // Asked for all at once, so the OS hands out distinct ones.
  const free = await Promise.all(processes.map(() => freePort()));
  const ports = Object.fromEntries(processes.map((p, i) => [p.portVariable, String(free[i])]));
  const env: Record<string, string> = {
    ...testInfrastructure('e2e'),
    ...ports,
    // vitest sets MODE=test in its own environment; the system knows only DEV and RELEASE.
    MODE: 'DEV',
    LOG_LEVEL: 'info',
    BCRYPT_ROUNDS: '10',
    ...(options.processes && { PROCESSES: options.processes.join(',') }),
    ...(options.compiled && { START_COMPILED: '1' }),
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

  const portOf = (name: ProcessName) => env[processNamed(name).portVariable];
  const url = `http://127.0.0.1:${portOf('gateway')}`;
  const withWorker = !options.processes || options.processes.includes('worker');
  const readinessUrls = [`${url}/readyz`, ...(withWorker ? [`http://127.0.0.1:${portOf('worker')}/readyz`] : [])];
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

export interface RunningProcess {
  pid: number;
  output(): string;
  /** Resolves with the exit code once the process has exited (null when a signal ended it). */
  exited: Promise<number | null>;
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
  const local = (other: ProcessName) => `http://127.0.0.1:${system.env[processNamed(other).portVariable]}`;
  const addresses: Record<string, string> = { AUTH_JWKS_URL: `${local('auth')}/api/auth/jwks.json` };
  for (const other of processNamed(name).needs.processes) addresses[urlVariableOf(other)] = local(other);
  return spawnProcess(name, {
    ...system.env,
    ...addresses,
    PORT: system.env[processNamed(name).portVariable] ?? '0',
    ...overrides,
  });
}

/**
 * Runs one process of the system with exactly the environment given (on top of this one's), from
 * its TypeScript entry as `npm start` does, or from the production build (`npm run build:dist`).
 */
export function spawnProcess(
  name: ProcessName,
  env: Record<string, string>,
  options: { compiled?: boolean } = {},
): RunningProcess {
  const description = processNamed(name);
  const args = nodeArgumentsOf(description, options.compiled ?? false);
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid ?? 0,
    output: () => output,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

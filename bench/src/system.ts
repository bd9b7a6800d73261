/**
 * Starts the whole system as `npm start` does (scripts/start.ts, or another command), with the
 * run's own ports (one per process of the project's process list), database, stream and Redis
 * prefixes, and stops it again. The processes' output goes straight to a log file, so reading it costs the harness nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropRedisKeys, dropStreams, dropTestDatabase, freePort, testInfrastructure, waitFor } from '@imm/testing';
import { type ProcessName, processes } from '../../processes';

export type { ProcessName };
/** The processes that serve part of the API (the direct runs go to them). */
export type ServiceName = Exclude<ProcessName, 'gateway' | 'worker'>;

export interface StartedSystem {
  /** The gateway's base URL. */
  url: string;
  /** Each service's own base URL, for the direct runs. */
  services: Record<ServiceName, string>;
  ports: Record<ProcessName, number>;
  databaseUrl: string;
  /** The process group of the supervisor: every process of the system is in it. */
  processGroup: number;
  command: string;
  logFile: string;
  stop(options: { keep: boolean }): Promise<void>;
}

const root = new URL('../..', import.meta.url).pathname;

/** `npm start` without npm: the supervisor script run by this Node with tsx. */
export const defaultCommand = `"${process.execPath}" --import tsx scripts/start.ts`;

export async function startSystem(command: string, extraEnv: Record<string, string>): Promise<StartedSystem> {
  const free = await Promise.all(processes.map(() => freePort()));
  const ports = Object.fromEntries(processes.map((p, i) => [p.name, free[i] as number])) as Record<ProcessName, number>;
  const infrastructure = testInfrastructure('bench');
  const env: Record<string, string> = {
    ...infrastructure,
    ...Object.fromEntries(processes.map((p) => [p.portVariable, String(ports[p.name])])),
    MODE: 'DEV',
    LOG_LEVEL: 'info',
    // A bcrypt-10 hash costs about what the Django service's PBKDF2 costs on the same machine.
    BCRYPT_ROUNDS: '10',
    // One load generator is one client address: the limiter must not be what is measured.
    RATE_LIMIT_PER_MINUTE: '100000000',
    RATE_LIMIT_PER_USER_PER_MINUTE: '100000000',
    // The sign-in throttle counts an attempt as a failure until its password checks out, so 32
    // sign-ins of one user in flight would be refused (429) or slowed after the fifth: what is
    // measured must be the password work, as the Django service (no throttle) is measured.
    SIGNIN_MAX_FAILURES_PER_PAIR: '100000000',
    SIGNIN_MAX_FAILURES_PER_IP: '100000000',
    SIGNIN_USERNAME_DELAY_AFTER: '100000000',
    ...extraEnv,
  };

  const logFile = join(tmpdir(), `imm-bench-${infrastructure.BUS_PREFIX}.log`);
  const log = openSync(logFile, 'w');
  const child: ChildProcess = spawn(command, {
    cwd: root,
    shell: true,
    env: { ...process.env, ...env },
    detached: true, // its own process group, so stop() reaches every process
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const pid = child.pid ?? 0;

  const stop = async ({ keep }: { keep: boolean }) => {
    if (running) {
      process.kill(-pid, 'SIGTERM');
      const timer = setTimeout(() => running && process.kill(-pid, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keep) {
      await dropTestDatabase(env.DATABASE_URL as string).catch(() => {});
      await dropRedisKeys(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', infrastructure.REDIS_PREFIX);
      await dropStreams(process.env.NATS_URL ?? 'nats://127.0.0.1:4222', infrastructure.BUS_PREFIX).catch(() => {});
      rmSync(logFile, { force: true });
    }
  };

  try {
    await Promise.race([
      waitFor(
        async () => {
          // Every process answers its own readiness.
          const ready = await Promise.all(
            Object.values(ports).map((port) =>
              fetch(`${local(port)}/readyz`).then(
                (response) => response.status === 200,
                () => false,
              ),
            ),
          );
          return ready.every(Boolean);
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      ),
      exited.then((code) => {
        throw new Error(`the system exited with code ${code} while starting`);
      }),
    ]);
  } catch (error) {
    const tail = readFileSync(logFile, 'utf8').slice(-6000);
    await stop({ keep: false });
    throw new Error(`the system did not become ready: ${(error as Error).message}\n${tail}`);
  }

  return {
    url: local(ports.gateway),
    services: { auth: local(ports.auth), machines: local(ports.machines), operations: local(ports.operations) },
    ports,
    databaseUrl: env.DATABASE_URL as string,
    processGroup: pid,
    command,
    logFile,
    stop,
  };
}

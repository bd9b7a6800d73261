import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, stopServer } from './server-process';
import { freePort, waitFor } from './wait-for';

export interface NatsServerHandle {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL); its JetStream store stays for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store directory. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing is answered, like a stalled server. */
  pause(): Promise<void>;
  /** Lets a paused server go on (SIGCONT). */
  resume(): Promise<void>;
  /** Stops it and deletes its store directory. */
  dispose(): Promise<void>;
}

const binary =
  process.env.NATS_SERVER_BIN ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A nats-server of the test's own (JetStream on, own port, own store directory), for tests that
 * take NATS away; the shared server is never stopped.
 */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'imm-nats-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const proc = spawnServer(
      binary,
      ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir],
      { stdio: ['ignore', 'ignore', 'pipe'] },
      () => {
        if (child === proc) child = undefined;
      },
    );
    let output = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    child = proc;
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
        // "Server is ready" is printed once JetStream and the client listener are up.
        return output.includes('Server is ready') && portAcceptsConnections(port);
      },
      { timeoutMs: 15_000, intervalMs: 25 },
    );
  }

  async function stop(): Promise<void> {
    if (child) await stopServer(child, 'SIGTERM');
  }

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async pause() {
      child?.kill('SIGSTOP');
    },
    async resume() {
      child?.kill('SIGCONT');
    },
    async dispose() {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

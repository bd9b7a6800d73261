import type { ChildProcess } from 'node:child_process';
import { connect as connectTcp } from 'node:net';
import { spawnServer, stopServer } from './server-process';
import { freePort, waitFor } from './wait-for';

export interface RedisServerHandle {
  url: string;
  port: number;
  /** Kills the server; like a crash, it keeps nothing (no persistence). */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A redis-server of the test's own, on a free port, for tests that take Redis away; the shared
 * server is never stopped.
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const proc = spawnServer(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
      () => {
        if (child === proc) child = undefined;
      },
    );
    child = proc;
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error('redis-server exited');
        return answersPing(port);
      },
      { timeoutMs: 15_000, intervalMs: 25 },
    );
  }

  async function stop(): Promise<void> {
    // Like a crash: no chance to save anything.
    if (child) await stopServer(child, 'SIGKILL');
  }

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dropStreams, dropTestDatabase, freePort, testInfrastructure, waitFor } from '@imm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogLine } from './support';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = 'libs/host/test/fixtures/service.ts';
const infra = testInfrastructure('host_signal');
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const opened = ['database', 'bus', 'relay', 'redis main', 'responder', 'http'];

afterAll(async () => {
  await dropTestDatabase(infra.DATABASE_URL);
  await dropStreams(NATS_URL, infra.BUS_PREFIX);
});

async function run(env: Record<string, string> = {}) {
  const port = await freePort();
  // `node --import tsx` is one process: the signal reaches the fixture itself, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      ...infra,
      NATS_URL,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORT: String(port),
      LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  // 'close', not 'exit': the child may exit before its last lines are read from the pipe.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const lines = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  const parts = (msg: string) =>
    lines()
      .filter((line) => line.msg === msg)
      .map((line) => line.part);
  return { child, port, exited, lines, parts };
}

describe('a process run by the host', () => {
  it('closes everything in reverse order on SIGTERM and exits 0', async () => {
    const proc = await run();
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error('the fixture exited');
        const response = await fetch(`http://127.0.0.1:${proc.port}/readyz`).catch(() => undefined);
        return response?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    // Read once stdout is closed: a ready answer can arrive before the lines logged ahead of it.
    expect(proc.parts('opened')).toEqual(opened);
    expect(proc.lines().some((line) => line.msg === 'SIGTERM received, shutting down')).toBe(true);
    expect(proc.parts('closed')).toEqual([...opened].reverse());
    expect(proc.lines().some((line) => line.msg === 'nats closed')).toBe(true);
  });

  it('closes what it opened and exits 1 when a start fails half-way', async () => {
    const proc = await run({ FAIL_AT_START: '1' });
    expect(await proc.exited).toBe(1);
    expect(proc.parts('opened')).toEqual(['database', 'bus', 'relay', 'redis main', 'responder']);
    expect(proc.parts('closed')).toEqual(['responder', 'redis main', 'relay', 'bus', 'database']);
    const fatal = proc.lines().find((line) => line.msg === 'host fixture failed to start');
    expect(fatal?.err).toMatchObject({ message: 'the consumer could not start' });
  });
});

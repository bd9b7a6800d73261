import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

/**
 * `npm start` (scripts/start.ts) as an operator meets it: every process's lines carry its name,
 * and when one process dies the others are stopped too, rather than running half a system.
 */
let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});
afterAll(async () => {
  await system?.stop();
});

/** The pids of this run's processes (found by the run's own bus prefix in their environment). */
function processesOfThisRun(): { pid: number; command: string }[] {
  const marker = `BUS_PREFIX=${system.env.BUS_PREFIX}`;
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).trim().split('\n');
  return lines
    .map((line) => {
      const [, pid = '0', command = ''] = /^\s*(\d+)\s+(.*)$/.exec(line) ?? [];
      return { pid: Number(pid), command };
    })
    .filter(({ pid, command }) => {
      if (!command.includes('/src/') || !command.startsWith(process.execPath)) return false;
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker);
      } catch {
        return false; // gone already
      }
    });
}

it('prefixes each process’s log lines with its name', async () => {
  const names = () =>
    [
      ...new Set(
        system
          .output()
          .split('\n')
          .map((line) => /^\[(\w+)\s*\] \{/.exec(line)?.[1])
          .filter(Boolean),
      ),
    ].sort();
  await expect.poll(names).toEqual(['auth', 'gateway', 'machines', 'operations', 'worker']);
});

it('stops every process when one of them dies', async () => {
  const running = processesOfThisRun();
  expect(running.map((p) => p.command.split(' ').at(-1)).sort()).toEqual([
    'gateway/src/main.ts',
    'services/auth/src/main.ts',
    'services/machines/src/main.ts',
    'services/operations/src/main.ts',
    'services/operations/src/worker.ts',
  ]);
  const machines = running.find((p) => p.command.endsWith('services/machines/src/main.ts'));
  process.kill(machines?.pid as number, 'SIGKILL');

  const code = await system.exited;
  expect(code).not.toBe(0);
  expect(processesOfThisRun()).toEqual([]);
  expect((await fetch(`${system.url}/healthz`).catch(() => undefined))?.status).toBeUndefined();
});

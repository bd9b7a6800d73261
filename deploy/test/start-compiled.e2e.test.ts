import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type RunningSystem, startSystem } from '@imm/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { processes } from '../../processes';
import { buildDist } from '../../scripts/build-dist';

/**
 * `START_COMPILED=1 npm start`: the whole system from the production build (what the image runs,
 * and what a benchmark should measure), serving a client through the gateway.
 */
let system: RunningSystem;

beforeAll(async () => {
  await buildDist();
  system = await startSystem({}, { compiled: true });
}, 150_000);
afterAll(async () => {
  await system?.stop();
});

/** The command lines of this run's node processes (found by the run's bus prefix in their environment). */
function commandsOfThisRun(): string[] {
  const marker = `BUS_PREFIX=${system.env.BUS_PREFIX}`;
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).trim().split('\n');
  return lines
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line) ?? [])
    .filter(([, pid, command]) => {
      if (!command?.startsWith(process.execPath) || command.includes('scripts/start.ts')) return false;
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker);
      } catch {
        return false; // gone already
      }
    })
    .map(([, , command]) => command as string);
}

it('runs every process from its compiled file with plain node', () => {
  const commands = commandsOfThisRun();
  expect(commands.map((c) => c.split(' ').at(-1)).sort()).toEqual(processes.map((p) => p.compiled).sort());
  for (const command of commands) expect(command).not.toMatch(/tsx|\.ts\b/);
});

it('serves a client through the gateway', async () => {
  const username = `compiled_${system.env.BUS_PREFIX?.slice(-8)}`;
  const signUp = await fetch(`${system.url}/api/sign-up/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      username,
      email: `${username}@example.com`,
      password: 'molding-compiled',
      first_name: 'Built',
      last_name: 'Once',
    }),
  });
  expect(signUp.status).toBe(201);
  const { result } = (await signUp.json()) as { result: { token: { access: string } } };
  const machine = await fetch(`${system.url}/api/machines/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${result.token.access}` },
    body: JSON.stringify({ name: 'press-compiled', location: 'hall C' }),
  });
  expect(machine.status).toBe(201);
  const docs = await fetch(`${system.url}/api/docs/`);
  expect(docs.status).toBe(200);
});

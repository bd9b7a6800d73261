import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dropRedisKeys, freePort } from '@imm/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { uniquePrefix } from './support';

const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

function run(env: Record<string, string>) {
  // vitest sets MODE=test in its own environment; the child gets a clean one.
  const proc = spawn(tsx, [main], {
    env: { PATH: process.env.PATH, MODE: 'DEV', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited, output: () => ({ stdout, stderr }) };
}

describe('main', () => {
  it('starts, answers, logs JSON lines, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('main');
    const { proc, exited, output } = run({ PORT: String(port), REDIS_PREFIX: prefix });
    let healthy = false;
    for (let i = 0; i < 100 && !healthy; i++) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(healthy, JSON.stringify(output())).toBe(true);
    const response = await fetch(`http://127.0.0.1:${port}/api/nope/`, { headers: { 'X-Request-Id': 'main-test-1' } });
    expect(response.status).toBe(404);

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = output()
      .stdout.split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { service: string; requestId?: string; msg: string });
    expect(lines.every((line) => line.service === 'gateway')).toBe(true);
    expect(lines.some((line) => line.requestId === 'main-test-1')).toBe(true);
    await dropRedisKeys('redis://127.0.0.1:6379', prefix);
  });

  it('refuses to start in RELEASE without CORS_ORIGINS and ALLOWED_HOSTS, naming both', async () => {
    const { exited, output } = run({
      MODE: 'RELEASE',
      PORT: String(await freePort()),
      CORS_ORIGINS: '',
      ALLOWED_HOSTS: '',
    });
    expect(await exited).toBe(78);
    expect(output().stderr).toContain('CORS_ORIGINS: required when MODE=RELEASE');
    expect(output().stderr).toContain('ALLOWED_HOSTS: required when MODE=RELEASE');
  });

  it('names each wrong variable', async () => {
    const { exited, output } = run({ BODY_LIMIT: 'huge', CORS_ORIGINS: 'app.example.com', UPSTREAM_TIMEOUT_MS: '-1' });
    expect(await exited).toBe(78);
    const { stderr } = output();
    expect(stderr).toContain('BODY_LIMIT: use a size such as 100kb');
    expect(stderr).toContain('CORS_ORIGINS: "app.example.com" is not an origin');
    expect(stderr).toContain('UPSTREAM_TIMEOUT_MS');
  });
});

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@imm/testing';
import { CommandCycler } from '../src/commands';
import { OptionError, parseOptions } from '../src/options';
import { systemMemory } from '../src/process-usage';
import { formatComparison } from '../src/report';
import type { BenchResult } from '../src/result';
import { summarize } from '../src/stats';

describe('options', () => {
  it('--quick changes the defaults only; explicit values win', () => {
    const quick = parseOptions(['--quick', '--duration', '3', '--env', 'A=b=c', '--env', 'X=1']);
    expect(quick.duration).toBe(3);
    expect(quick.e2eRuns).toBeLessThan(50);
    expect(quick.sustainedDuration).toBeLessThan(30);
    expect(quick.env).toEqual({ A: 'b=c', X: '1' });
    const full = parseOptions([]);
    expect([full.connections, full.duration, full.warmup, full.machines, full.e2eRuns]).toEqual([32, 10, 2, 400, 50]);
    expect(full.growthHistory).toEqual([10_000, 100_000, 1_000_000]);
  });

  it('refuses what it cannot use', () => {
    expect(() => parseOptions(['--env', 'NOVALUE'])).toThrow(/KEY=VALUE/);
    expect(() => parseOptions(['--duration', 'soon'])).toThrow(/--duration/);
    expect(() => parseOptions(['--frobnicate'])).toThrow(OptionError);
  });
});

describe('CommandCycler', () => {
  it('goes round the machines and flips a machine’s command only when it was accepted', () => {
    const cycler = new CommandCycler([1, 2]);
    const bodies: string[] = [];
    const send = (status: number) => {
      const next = cycler.next();
      bodies.push(`${next.path} ${next.body}`);
      next.onStatus(status);
    };
    send(202); // 1 START accepted
    send(409); // 2 START refused
    send(202); // 1 STOP
    send(202); // 2 START again
    expect(bodies).toEqual([
      '/api/machines/1/operation/ {"command":"START"}',
      '/api/machines/2/operation/ {"command":"START"}',
      '/api/machines/1/operation/ {"command":"STOP"}',
      '/api/machines/2/operation/ {"command":"START"}',
    ]);
  });

  it('never hands out a machine that still has a command in flight', () => {
    const cycler = new CommandCycler([1, 2]);
    const a = cycler.take();
    const b = cycler.take();
    expect([a?.id, b?.id]).toEqual([1, 2]);
    expect(cycler.take()).toBeUndefined();
    a?.done(true);
    expect(cycler.take()).toMatchObject({ id: 1, command: 'STOP' });
  });
});

describe('systemMemory', () => {
  it('names a process of the group by the port it listens on', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['-e', `require('http').createServer(() => {}).listen(${port}, '127.0.0.1'); setInterval(() => {}, 1000)`],
      { detached: true, stdio: 'ignore' },
    );
    try {
      const ports = { gateway: port, auth: 1, machines: 2, operations: 3, worker: 4 };
      const found = await waitFor(() => {
        const list = systemMemory(child.pid as number, ports);
        return list.some((p) => p.name === 'gateway') && list;
      });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ name: 'gateway', pid: child.pid });
      expect(found[0]?.rssMb).toBeGreaterThan(10);
      expect(found[0]?.peakMb).toBeGreaterThanOrEqual(found[0]?.rssMb as number);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('formatComparison', () => {
  const result = (label: string, rps: number, p50: number): BenchResult =>
    ({
      format: 1,
      label,
      target: `http://${label}`,
      started: false,
      env: {},
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:01:00.000Z',
      host: {
        cores: 2,
        cpu: 'x',
        memoryGb: 1,
        node: 'v20',
        platform: 'linux',
        git: { commit: 'abc', dirty: false },
        loadavg: { before: [] },
      },
      options: {},
      seed: { machines: 400, commandMachines: 396 },
      load: [
        {
          endpoint: 'get one',
          via: 'gateway',
          method: 'GET',
          path: '/api/machines/1/',
          result: {
            connections: 32,
            seconds: 10,
            requests: rps * 10,
            sent: rps * 10,
            rps,
            latency: summarize([p50, p50, p50]),
            errors: 0,
            timeouts: 0,
            non2xx: 0,
            statusCodes: { 200: rps * 10 },
          },
        },
      ],
      drains: [],
      commands: {},
      memory: { before: [], after: [] },
    }) satisfies BenchResult;

  it('writes ratios so that more than 1 means the second is better', () => {
    const text = formatComparison(result('drf', 400, 80), result('imm', 2000, 10));
    const row = text.split('\n').find((line) => line.startsWith('get one'));
    expect(row?.split(/\s+/)).toEqual(['get', 'one', '400', '2000', '5.00x', '80', '10', '8.00x', '80', '10', '8.00x']);
  });
});

/** What one run measured: printed as tables and written as JSON under bench/results/. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { SequentialResult, SustainedResult } from './commands';
import type { GrowthResult } from './growth';
import type { LoadResult } from './load';
import type { ProcessMemory } from './process-usage';

export interface LoadRow {
  endpoint: string;
  /** `gateway`, or the service called directly. */
  via: string;
  method: string;
  path: string;
  result: LoadResult;
  /** Cores used during the run by each process of the target and by the harness (`harness`). */
  cpu?: Record<string, number>;
}

export interface BenchResult {
  /** Bumped when the shape changes, so compare.ts can refuse what it cannot read. */
  format: 1;
  label: string;
  target: string;
  /** True when the harness started the system itself (then `command` and `env` say how). */
  started: boolean;
  command?: string;
  env: Record<string, string>;
  startedAt: string;
  finishedAt: string;
  host: Host;
  options: Record<string, unknown>;
  seed: { machines: number; commandMachines: number };
  load: LoadRow[];
  /** Seconds until the commands accepted by a load run had all finished. */
  drains: { after: string; seconds: number }[];
  commands: { sequential?: SequentialResult; sustained?: SustainedResult & { cpu?: Record<string, number> } };
  memory: { before: ProcessMemory[]; after: ProcessMemory[] };
  growth?: GrowthResult;
}

export interface Host {
  cores: number;
  cpu: string;
  memoryGb: number;
  node: string;
  platform: string;
  git: { commit: string; dirty: boolean };
  loadavg: { before: number[]; after?: number[] };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function describeHost(): Host {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    git: { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain']) !== '' },
    loadavg: { before: loadavg().map((value) => Math.round(value * 100) / 100) },
  };
}

export const currentLoadavg = () => loadavg().map((value) => Math.round(value * 100) / 100);

/** Writes the result as `<timestamp>-<label>.json`; returns the path. */
export function writeResult(directory: string, result: BenchResult): string {
  mkdirSync(directory, { recursive: true });
  const stamp = result.startedAt.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const label = result.label.replace(/[^A-Za-z0-9._-]+/g, '_');
  const file = join(directory, `${stamp}-${label}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

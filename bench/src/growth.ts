/**
 * Latency as the data grows: the machine list at each machine count and the history lists at each
 * entry count, through the gateway at low concurrency (4 connections), so what grows is the cost of
 * one request rather than the queueing.
 */
import type { ApiClient } from './api';
import { type LoadResult, runClosedLoop } from './load';
import { BENCH_ENDPOINT, signUpBenchUser } from './seed-api';
import { growHistory, growMachines } from './seed-sql';

export interface GrowthCase {
  name: string;
  path: string;
  result: LoadResult;
}

export interface GrowthStep {
  /** Machines in the table, or the user's history entries. */
  size: number;
  seedSeconds: number;
  cases: GrowthCase[];
}

export interface GrowthResult {
  connections: number;
  seconds: number;
  machines: GrowthStep[];
  history: GrowthStep[];
}

const GROWTH_CONNECTIONS = 4;
const PAGE_SIZE = 10;

async function measure(baseUrl: string, token: string, cases: [string, string][], seconds: number) {
  const measured: GrowthCase[] = [];
  for (const [name, path] of cases) {
    const request = { method: 'GET' as const, path };
    // Warm: one request per connection first.
    await runClosedLoop({ baseUrl, token, request, connections: GROWTH_CONNECTIONS, seconds: 0 });
    const result = await runClosedLoop({ baseUrl, token, request, connections: GROWTH_CONNECTIONS, seconds });
    measured.push({ name, path, result });
  }
  return measured;
}

const middlePage = (count: number) => Math.max(1, Math.ceil(count / PAGE_SIZE / 2));

export async function runGrowth(options: {
  baseUrl: string;
  databaseUrl: string;
  /** An anonymous client of the target, to sign up the history user. */
  anonymous: ApiClient;
  /** Owner of the seeded machines (the bench user). */
  ownerId: number;
  machineSizes: number[];
  historySizes: number[];
  seconds: number;
  log: (line: string) => void;
  /** Signs the bench user in again: a fresh token for each step. */
  signIn: () => Promise<ApiClient>;
}): Promise<GrowthResult> {
  const { baseUrl, databaseUrl, seconds, log, anonymous } = options;
  const machines: GrowthStep[] = [];
  for (const size of options.machineSizes) {
    const start = Date.now();
    const total = await growMachines(databaseUrl, size, options.ownerId);
    const seedSeconds = (Date.now() - start) / 1000;
    log(`growth: ${total} machines (seeded in ${seedSeconds.toFixed(1)} s)`);
    const client = await options.signIn();
    const cases = await measure(
      baseUrl,
      client.accessToken,
      [
        ['page 1', '/api/machines/?page=1'],
        ['status=2, ordering=-created_at', '/api/machines/?status=2&ordering=-created_at'],
        ['page 50', '/api/machines/?page=50'],
        ['middle page', `/api/machines/?page=${middlePage(total)}`],
        ['search=ress-9, page_size=20', '/api/machines/?search=ress-9&page_size=20'],
      ],
      seconds,
    );
    machines.push({ size: total, seedSeconds, cases });
  }

  // A user of its own, so its history holds exactly the seeded entries whatever the load runs left.
  const { username, password } = await signUpBenchUser(anonymous, 'growth');
  const { client: growthClient, userId } = await anonymous.signIn(username, password);
  const hotMachine = await growthClient.createMachine('press-hot', 'hall-hot', BENCH_ENDPOINT);
  const history: GrowthStep[] = [];
  for (const size of options.historySizes) {
    const start = Date.now();
    const total = await growHistory(databaseUrl, size, userId, hotMachine);
    const seedSeconds = (Date.now() - start) / 1000;
    log(`growth: ${total} history entries (seeded in ${seedSeconds.toFixed(1)} s)`);
    const { client: fresh } = await anonymous.signIn(username, password);
    const cases = await measure(
      baseUrl,
      fresh.accessToken,
      [
        ['own, page 1', '/api/machines/history/'],
        ['own, command=START&result=1', '/api/machines/history/?command=START&result=1'],
        ['own, page 50', '/api/machines/history/?page=50'],
        ['own, middle page', `/api/machines/history/?page=${middlePage(total)}`],
        ['machine (a tenth), page 1', `/api/machines/${hotMachine}/history/`],
      ],
      seconds,
    );
    history.push({ size: total, seedSeconds, cases });
  }
  return { connections: GROWTH_CONNECTIONS, seconds, machines, history };
}

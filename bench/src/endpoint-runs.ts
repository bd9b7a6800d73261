/**
 * One endpoint's measured run (warm-up, settle, the timed run with the CPU of every process), and
 * the mixed run of GET one while sign-ins keep the password hashing busy.
 */
import type { ApiClient } from './api';
import { type CommandCycler, drainCommands } from './commands';
import { type Endpoint, getOneDuringSignIns } from './endpoints';
import { type LoadSpec, runLoad } from './load';
import type { BenchOptions } from './options';
import { startCpuMeter } from './process-usage';
import type { BenchResult, LoadRow } from './result';
import type { Seed } from './seed-api';

export interface RunContext {
  options: BenchOptions;
  seed: Seed;
  cycler: CommandCycler;
  /** Where the backlog drain times of the command runs are collected. */
  drains: BenchResult['drains'];
  /** The target's processes, whose CPU is read around each run (looked up at its start). */
  processes: () => { name: string; pid: number }[];
  log: (line: string) => void;
}

/**
 * One request per connection, all answered: the requests a timed run left in flight are done
 * before the next run starts (the server answers in order), and a quick run's paths are warm.
 */
const settle = (spec: LoadSpec) => runLoad({ ...spec, amount: spec.connections });

export async function measureEndpoint(
  { options, seed, cycler, drains, processes }: RunContext,
  endpoint: Endpoint,
  via: string,
  baseUrl: string,
  client: ApiClient,
): Promise<LoadRow> {
  const request = endpoint.request({ seed, cycler });
  const spec: LoadSpec = {
    baseUrl,
    request,
    token: endpoint.anonymous ? undefined : client.accessToken,
    connections: options.connections,
    seconds: Math.max(options.duration, endpoint.minSeconds ?? 0),
  };
  if (options.warmup > 0) await runLoad({ ...spec, seconds: options.warmup });
  await settle(spec);
  if (endpoint.commands) await drainCommands(client, seed.machines.e2e);
  const cpu = startCpuMeter(processes());
  const result = await runLoad(spec);
  const cores = cpu();
  if (endpoint.commands) {
    drains.push({ after: `${endpoint.name} via ${via}`, seconds: await drainCommands(client, seed.machines.e2e) });
  }
  return { endpoint: endpoint.name, via, method: endpoint.method, path: endpoint.path, result, cpu: cores };
}

/** Sign-ins at full load and GET one at a quarter of the connections, at the same time. */
export async function measureGetOneDuringSignIns(
  { options, seed, cycler, processes, log }: RunContext,
  baseUrl: string,
  client: ApiClient,
): Promise<LoadRow[]> {
  const { signIn, getOne } = getOneDuringSignIns;
  const signInRequest = signIn.request({ seed, cycler });
  const getOneRequest = getOne.request({ seed, cycler });
  const getOneConnections = Math.max(1, Math.round(options.connections / 4));
  const seconds = Math.max(options.duration, signIn.minSeconds ?? 0);
  await settle({ baseUrl, request: signInRequest, connections: options.connections, seconds });
  const cpu = startCpuMeter(processes());
  const [signIns, gets] = await Promise.all([
    runLoad({ baseUrl, request: signInRequest, connections: options.connections, seconds }),
    runLoad({ baseUrl, request: getOneRequest, token: client.accessToken, connections: getOneConnections, seconds }),
  ]);
  const cores = cpu();
  log(`get one during sign-ins: ${gets.rps} req/s, p99 ${gets.latency.p99} ms`);
  return [
    {
      endpoint: 'sign-in (with get one)',
      via: 'gateway',
      method: signIn.method,
      path: signIn.path,
      result: signIns,
      cpu: cores,
    },
    { endpoint: getOneDuringSignIns.name, via: 'gateway', method: getOne.method, path: getOne.path, result: gets },
  ];
}

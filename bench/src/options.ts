import { parseArgs } from 'node:util';

/** Everything one run of the harness is told on its command line. */
export interface BenchOptions {
  /** Measure the server at this URL instead of starting the system. */
  url?: string;
  /** Names the run (results file, tables). */
  label: string;
  /** Shell command that starts the system (default: `npm start`'s script run with tsx). */
  command?: string;
  /** Extra environment for the started system (`--env KEY=VALUE`, repeatable). */
  env: Record<string, string>;
  /** In `--url` mode: substrings of command lines whose processes' memory is reported (e.g. gunicorn). */
  processPatterns: string[];
  connections: number;
  /** Seconds per endpoint. */
  duration: number;
  /** Seconds of unreported load before each endpoint. */
  warmup: number;
  machines: number;
  /** Sequential end-to-end commands. */
  e2eRuns: number;
  /** Seconds of sustained end-to-end commands. */
  sustainedDuration: number;
  /** Commands in flight at once during the sustained run. */
  sustainedInFlight: number;
  /** Pause between two polls of a command's entry: one at a time, and sustained. */
  pollMs: number;
  sustainedPollMs: number;
  growth: boolean;
  growthMachines: number[];
  growthHistory: number[];
  /** Seconds per growth case (4 connections). */
  growthDuration: number;
  /** Only the endpoints whose name contains one of these (all when empty). */
  only: string[];
  /** Skip the direct-to-service runs. */
  gatewayOnly: boolean;
  quick: boolean;
  /** Keep the run's database (and the system's log) after the run. */
  keep: boolean;
  /** Measure this URL first, then the main target, and print both side by side. */
  baselineUrl?: string;
  baselineLabel: string;
  resultsDir: string;
}

export const usage = `npm run bench -- [options]

  --url URL                 measure a running server with this API instead of starting the system
  --label NAME              names the run (default: "imm", or the URL's host:port)
  --command "CMD"           start the system with this shell command instead of scripts/start.ts
                            (it gets the ports and settings in its environment, as npm start does)
  --env KEY=VALUE           extra environment for the started system (repeatable)
  --processes a,b           with --url: report the memory of processes whose command line contains these
  --connections N           concurrent connections per endpoint (32)
  --duration S              seconds per endpoint (10)
  --warmup S                unreported seconds before each endpoint (2)
  --machines N              machines seeded through the API (400)
  --e2e-runs N              sequential commands, POST to final result (50)
  --sustained-duration S    seconds of sustained commands (30)
  --sustained-in-flight N   commands in flight during the sustained run (= --connections)
  --poll-ms N               pause between polls of a command's entry, one at a time (2)
  --sustained-poll-ms N     the same during the sustained run (10; every poll is load on the system)
  --growth                  also measure list and history latency as the data grows (needs the started system)
  --growth-machines a,b,c   machine counts (1000,10000,100000)
  --growth-history a,b,c    history entry counts (10000,100000,1000000)
  --growth-duration S       seconds per growth case, at 4 connections (5)
  --only a,b                only the endpoints whose name contains one of these
  --gateway-only            skip the runs directly against each service
  --quick                   short durations and fewer runs: everything in under two minutes
  --keep                    keep the run's database and the system's log
  --baseline URL            measure this server first (e.g. the Django service), then the main target,
                            and print both side by side
  --baseline-label NAME     label of the baseline run (default "baseline")
  --results DIR             where the JSON results go (bench/results)
  --micro                   run the package microbenchmarks (services/*/bench) instead
  --compare A.json B.json   print two result files side by side with ratios, and exit
`;

/** A command line the harness cannot use: reported as one line, without a stack. */
export class OptionError extends Error {}

const numbers = (value: string | undefined, fallback: number[]): number[] =>
  value ? value.split(',').map((part) => positive(part.trim(), 'a size')) : fallback;

function positive(value: string, what: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new OptionError(`${what}: expected a positive number, got "${value}"`);
  return number;
}

const list = (value: string | undefined): string[] =>
  value
    ? value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
    : [];

/** Parses the harness's arguments; `--quick` changes only the defaults, explicit values win. */
export function parseOptions(args: string[]): BenchOptions {
  try {
    return optionsOf(args);
  } catch (error) {
    // node:util's own parse errors (unknown option, missing value) carry an ERR_PARSE_ARGS_* code.
    const code = (error as { code?: string }).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new OptionError((error as Error).message);
    throw error;
  }
}

function optionsOf(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      url: { type: 'string' },
      label: { type: 'string' },
      command: { type: 'string' },
      env: { type: 'string', multiple: true },
      processes: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      machines: { type: 'string' },
      'e2e-runs': { type: 'string' },
      'sustained-duration': { type: 'string' },
      'sustained-in-flight': { type: 'string' },
      'poll-ms': { type: 'string' },
      'sustained-poll-ms': { type: 'string' },
      growth: { type: 'boolean' },
      'growth-machines': { type: 'string' },
      'growth-history': { type: 'string' },
      'growth-duration': { type: 'string' },
      only: { type: 'string' },
      'gateway-only': { type: 'boolean' },
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
      baseline: { type: 'string' },
      'baseline-label': { type: 'string' },
      results: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const num = (value: string | undefined, name: string, normal: number, fast: number) =>
    value === undefined ? (quick ? fast : normal) : positive(value, `--${name}`);

  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new OptionError(`--env: expected KEY=VALUE, got "${pair}"`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const url = values.url?.replace(/\/+$/, '');
  const connections = num(values.connections, 'connections', 32, 32);
  return {
    url,
    label: values.label ?? (url ? new URL(url).host : 'imm'),
    command: values.command,
    env,
    processPatterns: list(values.processes),
    connections,
    // autocannon ends a timed run on its next one-second tick: whole seconds are what it runs.
    duration: num(values.duration, 'duration', 10, 1),
    warmup: values.warmup === '0' ? 0 : num(values.warmup, 'warmup', 2, 0),
    machines: num(values.machines, 'machines', 400, 400),
    e2eRuns: num(values['e2e-runs'], 'e2e-runs', 50, 10),
    sustainedDuration: num(values['sustained-duration'], 'sustained-duration', 30, 3),
    sustainedInFlight: num(values['sustained-in-flight'], 'sustained-in-flight', connections, connections),
    pollMs: num(values['poll-ms'], 'poll-ms', 2, 2),
    sustainedPollMs: num(values['sustained-poll-ms'], 'sustained-poll-ms', 10, 10),
    growth: values.growth ?? false,
    growthMachines: numbers(values['growth-machines'], quick ? [1000, 10_000] : [1000, 10_000, 100_000]),
    growthHistory: numbers(values['growth-history'], quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]),
    growthDuration: num(values['growth-duration'], 'growth-duration', 5, 1),
    only: list(values.only),
    gatewayOnly: values['gateway-only'] ?? false,
    quick,
    keep: values.keep ?? false,
    baselineUrl: values.baseline?.replace(/\/+$/, ''),
    baselineLabel: values['baseline-label'] ?? 'baseline',
    resultsDir: values.results ?? 'bench/results',
  };
}

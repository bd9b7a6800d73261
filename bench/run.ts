/**
 * `npm run bench`: starts the system as `npm start` does (or takes a running server by `--url`),
 * seeds it through the API, puts each endpoint under load through the gateway and directly on the
 * service behind it, runs commands end to end, reads every process's memory before and after, and
 * optionally measures latency as the data grows. Prints tables and writes the same as JSON under
 * bench/results/. See bench/README.md.
 */
import { CommandCycler, drainCommands, sequentialCommands, sustainedCommands } from './src/commands';
import { measureEndpoint, measureGetOneDuringSignIns, type RunContext } from './src/endpoint-runs';
import { endpoints, getOneDuringSignIns } from './src/endpoints';
import { type GrowthResult, runGrowth } from './src/growth';
import { type BenchOptions, parseOptions, usage } from './src/options';
import { databaseBackends, matchingMemory, type ProcessMemory, startCpuMeter, systemMemory } from './src/process-usage';
import { formatComparison, formatResult } from './src/report';
import { type BenchResult, currentLoadavg, describeHost, type LoadRow, writeResult } from './src/result';
import { seedThroughApi } from './src/seed-api';
import { defaultCommand, type StartedSystem, startSystem } from './src/system';

const began = Date.now();
const log = (line: string) =>
  process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

/** A few tries, for the harness's own calls between runs: a busy machine sometimes fails one. */
async function retrying<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      log(`retrying after: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/** The server being measured: one the harness started, or one given by URL. */
interface Target {
  url: string;
  system?: StartedSystem;
  memory(): ProcessMemory[];
  /** The processes whose CPU is read around each run: those of memory(), and the database's backends. */
  cpuProcesses(measured: ProcessMemory[]): { name: string; pid: number }[];
}

const wanted = (options: BenchOptions, name: string) =>
  options.only.length === 0 || options.only.some((part) => name.includes(part));

async function measure(options: BenchOptions): Promise<BenchResult> {
  const host = describeHost();
  const startedAt = new Date().toISOString();
  const command = options.command ?? defaultCommand;
  let target: Target;
  if (options.url) {
    target = {
      url: options.url,
      memory: () => matchingMemory(options.processPatterns),
      cpuProcesses: (measured) => measured,
    };
  } else {
    log(`starting the system: ${command}`);
    const system = await startSystem(command, options.env);
    const database = new URL(system.databaseUrl).pathname.slice(1);
    target = {
      url: system.url,
      system,
      memory: () => systemMemory(system.processGroup, system.ports),
      cpuProcesses: (measured) => [...measured, ...databaseBackends(database)],
    };
    log(`ready at ${system.url} (log: ${system.logFile})`);
  }
  // The system runs in a process group of its own: Ctrl-C reaches only the harness, which stops it.
  const stopOnSignal = () => {
    void (target.system?.stop({ keep: options.keep }) ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  let failed = false;
  try {
    log(`seeding a user and ${options.machines} machines through the API`);
    const seed = await seedThroughApi(target.url, options.machines);
    const signIn = () => retrying(async () => (await seed.anonymous.signIn(seed.username, seed.password)).client);
    const memoryBefore = target.memory();

    const load: LoadRow[] = [];
    const drains: BenchResult['drains'] = [];
    const cycler = new CommandCycler(seed.commandMachines);
    const context: RunContext = {
      options,
      seed,
      cycler,
      drains,
      processes: () => target.cpuProcesses(memoryBefore),
      log,
    };
    for (const endpoint of endpoints) {
      if (!wanted(options, endpoint.name)) continue;
      // The target's public URL is called `gateway` for any server, so results compare row by row.
      const vias: [string, string][] = [['gateway', target.url]];
      if (target.system && !options.gatewayOnly) {
        vias.push([endpoint.service, target.system.services[endpoint.service]]);
      }
      for (const [via, baseUrl] of vias) {
        const client = await signIn();
        const row = await measureEndpoint(context, endpoint, via, baseUrl, client);
        load.push(row);
        log(`${endpoint.name} via ${via}: ${row.result.rps} req/s, p50 ${row.result.latency.p50} ms`);
      }
      if (endpoint.name === 'sign-in' && wanted(options, getOneDuringSignIns.name)) {
        load.push(...(await measureGetOneDuringSignIns(context, target.url, await signIn())));
      }
    }

    const commands: BenchResult['commands'] = {};
    if (wanted(options, 'commands one at a time')) {
      const client = await signIn();
      await drainCommands(client, seed.machines.e2e);
      log(`commands one at a time: ${options.e2eRuns} runs`);
      commands.sequential = await sequentialCommands(client, seed.machines.e2e, options.e2eRuns, options.pollMs);
    }
    if (wanted(options, 'commands sustained')) {
      const client = await signIn();
      await cycler.resync(client);
      log(`commands sustained: ${options.sustainedDuration} s, ${options.sustainedInFlight} in flight`);
      const cpu = startCpuMeter(target.cpuProcesses(memoryBefore));
      const sustained = await sustainedCommands(client, cycler, {
        seconds: options.sustainedDuration,
        inFlight: options.sustainedInFlight,
        pollMs: options.sustainedPollMs,
      });
      commands.sustained = { ...sustained, cpu: cpu() };
      drains.push({ after: 'commands sustained', seconds: await drainCommands(client, seed.machines.e2e) });
    }
    const memoryAfter = target.memory();

    let growth: GrowthResult | undefined;
    if (options.growth) {
      if (!target.system) log('growth skipped: it seeds the database directly, so it needs the system it started');
      else {
        growth = await runGrowth({
          baseUrl: target.url,
          databaseUrl: target.system.databaseUrl,
          anonymous: seed.anonymous,
          ownerId: seed.userId,
          machineSizes: options.growthMachines,
          historySizes: options.growthHistory,
          seconds: options.growthDuration,
          log,
          signIn,
        });
      }
    }

    return {
      format: 1,
      label: options.label,
      target: target.url,
      started: target.system !== undefined,
      ...(target.system && { command }),
      env: options.env,
      startedAt,
      finishedAt: new Date().toISOString(),
      host: { ...host, loadavg: { before: host.loadavg.before, after: currentLoadavg() } },
      options: {
        connections: options.connections,
        duration: options.duration,
        warmup: options.warmup,
        machines: options.machines,
        e2eRuns: options.e2eRuns,
        sustainedDuration: options.sustainedDuration,
        sustainedInFlight: options.sustainedInFlight,
        pollMs: options.pollMs,
        sustainedPollMs: options.sustainedPollMs,
        quick: options.quick,
        growth: options.growth,
        only: options.only,
      },
      seed: { machines: options.machines, commandMachines: seed.commandMachines.length },
      load,
      drains,
      commands,
      memory: { before: memoryBefore, after: memoryAfter },
      ...(growth && { growth }),
    };
  } catch (error) {
    failed = true;
    if (target.system) log(`the system's log is kept in ${target.system.logFile}`);
    throw error;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    if (target.system) {
      log('stopping the system');
      // On failure the log and database stay for a look.
      await target.system.stop({ keep: options.keep || failed });
    }
  }
}

export async function runBench(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  const options = parseOptions(args);
  const results: BenchResult[] = [];
  const measureAndWrite = async (runOptions: BenchOptions) => {
    const result = await measure(runOptions);
    // Written at once: a failure in a later run keeps this one.
    const file = writeResult(options.resultsDir, result);
    process.stdout.write(`\n${formatResult(result)}\n\nwritten to ${file}\n`);
    results.push(result);
  };
  if (options.baselineUrl) {
    log(`baseline first: ${options.baselineUrl}`);
    await measureAndWrite({ ...options, url: options.baselineUrl, label: options.baselineLabel, growth: false });
  }
  await measureAndWrite(options);
  const [baseline, main] = results;
  if (baseline && main) process.stdout.write(`\n${formatComparison(baseline, main)}\n`);
}

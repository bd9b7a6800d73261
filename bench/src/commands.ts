/**
 * Commands: which one each machine can take next, waiting for the backlog to drain, and the
 * end-to-end runs (POST, then poll the entry until it is no longer PENDING).
 */
import { performance } from 'node:perf_hooks';
import { type ApiClient, type Command, MachineStatus, PENDING } from './api';
import type { LoadRequest } from './load';
import { type LatencySummary, round, summarize } from './stats';

/**
 * Hands out commands round-robin over many machines, each the one its machine's state allows
 * (START from READY, STOP from RUNNING), so that a machine gets its next command only after all the
 * others got one: with enough machines it is never still pending. A 409 is counted, not retried.
 */
export class CommandCycler {
  private readonly nextCommand = new Map<number, Command>();
  /** Machines with a command in flight (end-to-end loops only). */
  private readonly busy = new Set<number>();
  private position = 0;

  constructor(private readonly machines: number[]) {
    for (const id of machines) this.nextCommand.set(id, 'START');
  }

  /** Reads every machine's status, so a command that failed does not leave the cycle out of step. */
  async resync(client: ApiClient): Promise<void> {
    await inParallel(this.machines, 8, async (id) => {
      const status = await client.machineStatus(id);
      this.nextCommand.set(id, status === MachineStatus.RUNNING ? 'STOP' : 'START');
    });
  }

  next(): LoadRequest & { onStatus: (status: number) => void } {
    const id = this.machines[this.position++ % this.machines.length] as number;
    const command = this.nextCommand.get(id) as Command;
    return {
      method: 'POST',
      path: `/api/machines/${id}/operation/`,
      body: JSON.stringify({ command }),
      onStatus: (status) => {
        if (status === 202) this.nextCommand.set(id, command === 'START' ? 'STOP' : 'START');
      },
    };
  }

  /** Takes the next machine that is free and its command (for the end-to-end loops). */
  take(): { id: number; command: Command; done: (accepted: boolean) => void } | undefined {
    for (let tries = 0; tries < this.machines.length; tries++) {
      const id = this.machines[this.position++ % this.machines.length] as number;
      if (this.busy.has(id)) continue;
      this.busy.add(id);
      const command = this.nextCommand.get(id) as Command;
      return {
        id,
        command,
        done: (accepted) => {
          this.busy.delete(id);
          if (accepted) this.nextCommand.set(id, command === 'START' ? 'STOP' : 'START');
        },
      };
    }
    return undefined;
  }
}

export async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) await work(items[i] as T);
    }),
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the command is no longer PENDING; returns its result. */
async function finalResult(client: ApiClient, machineId: number, entryId: number, pollMs: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const result = await client.entryResult(machineId, entryId);
    if (result !== undefined && result !== PENDING) return result;
    if (performance.now() > deadline) throw new Error(`command ${entryId} still pending after ${timeoutMs} ms`);
    await pause(pollMs);
  }
}

/** One command, POST to final result, in milliseconds. */
async function oneCommand(client: ApiClient, machineId: number, command: Command, pollMs: number, timeoutMs = 60_000) {
  const start = performance.now();
  const entryId = await client.command(machineId, command);
  if (entryId === undefined) return { accepted: false as const, ms: performance.now() - start };
  const result = await finalResult(client, machineId, entryId, pollMs, timeoutMs);
  return { accepted: true as const, ms: performance.now() - start, result };
}

/**
 * Waits until every accepted command has finished, so the backlog of one run does not leak into
 * the next; returns how long that took. imm-control can count its PENDING entries; for a server
 * without that filter a sentinel command on an idle machine finishes once the queue is drained.
 */
export async function drainCommands(client: ApiClient, sentinelMachine: number): Promise<number> {
  const start = performance.now();
  if (client.enveloped) {
    const pending = () => client.count('/api/machines/history/?result=4&page_size=1').catch(() => Number.NaN);
    // NaN (a failed look) is not 0: look again.
    for (let count = await pending(); count !== 0; count = await pending()) {
      if (performance.now() - start > 300_000) throw new Error(`commands still pending after 300 s (${count})`);
      await pause(100);
    }
  } else {
    const command = (await client.machineStatus(sentinelMachine)) === MachineStatus.RUNNING ? 'STOP' : 'START';
    await oneCommand(client, sentinelMachine, command, 10, 300_000);
  }
  return round((performance.now() - start) / 1000);
}

export interface SequentialResult {
  runs: number;
  latency: LatencySummary;
  /** Results other than SUCCESS, or refusals. */
  failures: number;
}

/** Commands one at a time on one machine, alternating, each waited for to its final result. */
export async function sequentialCommands(client: ApiClient, machineId: number, runs: number, pollMs: number) {
  let command: Command = (await client.machineStatus(machineId)) === MachineStatus.RUNNING ? 'STOP' : 'START';
  const samples: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i++) {
    const outcome = await oneCommand(client, machineId, command, pollMs);
    samples.push(outcome.ms);
    if (!outcome.accepted || outcome.result !== 1) failures++;
    if (outcome.accepted && outcome.result === 1) command = command === 'START' ? 'STOP' : 'START';
  }
  return { runs, latency: summarize(samples), failures } satisfies SequentialResult;
}

export interface SustainedResult {
  seconds: number;
  inFlight: number;
  pollMs: number;
  finished: number;
  perSecond: number;
  /** POST to final result. */
  latency: LatencySummary;
  refused: number;
  failures: number;
  errors: number;
  /** The first few errors' messages. */
  errorMessages: string[];
}

/**
 * `inFlight` loops, each sending a command to a free machine and polling it to its end, for
 * `seconds`: commands finished per second and their POST-to-final latency.
 */
export async function sustainedCommands(
  client: ApiClient,
  cycler: CommandCycler,
  { seconds, inFlight, pollMs }: { seconds: number; inFlight: number; pollMs: number },
): Promise<SustainedResult> {
  const samples: number[] = [];
  let refused = 0;
  let failures = 0;
  let errors = 0;
  const errorMessages: string[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const slot = cycler.take();
      if (!slot) {
        await pause(5);
        continue;
      }
      try {
        const outcome = await oneCommand(client, slot.id, slot.command, pollMs);
        slot.done(outcome.accepted && outcome.result === 1);
        if (!outcome.accepted) refused++;
        else if (outcome.result !== 1) failures++;
        else samples.push(outcome.ms);
      } catch (error) {
        slot.done(false);
        if (errors++ < 5) errorMessages.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - start) / 1000;
  return {
    seconds: round(elapsed),
    inFlight,
    pollMs,
    finished: samples.length,
    perSecond: round(samples.length / elapsed),
    latency: summarize(samples),
    refused,
    failures,
    errors,
    errorMessages,
  };
}

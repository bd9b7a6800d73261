import { OperationResult } from '@imm/contracts';
import { Counter, Gauge, Histogram } from '@imm/telemetry';
import type { Queue } from 'bullmq';

const resultNames = new Map<number, string>(Object.entries(OperationResult).map(([name, value]) => [value, name]));

const commands = new Counter({
  name: 'imm_commands_total',
  help: 'Commands by command and result: PENDING (accepted), PERMISSIONDENIED and INVALIDCOMMAND from the API; SUCCESS, REMOTEFAILED and INTERNALFAILED when the worker finishes one',
  labelNames: ['command', 'result'],
});

/** Counts one command's result (the API's answer, or the worker's final result). */
export function countCommand(command: string, result: number): void {
  commands.labels(command, resultNames.get(result) ?? String(result)).inc();
}

export const jobWait = new Histogram({
  name: 'imm_queue_job_wait_seconds',
  help: 'From a command being queued to a worker taking it up',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
});

const queues = new Set<Queue>();
const states = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

new Gauge({
  name: 'imm_queue_jobs',
  help: 'Jobs in the command queue by state, read from Redis at scrape time',
  labelNames: ['queue', 'state'],
  async collect() {
    this.reset();
    for (const queue of queues) {
      if (queue.closing) {
        queues.delete(queue);
        continue;
      }
      // Redis away: no value this scrape rather than a failed scrape.
      const counts = await queue.getJobCounts(...states).catch(() => undefined);
      if (!counts) continue;
      for (const state of states) this.labels(queue.name, state).set(counts[state] ?? 0);
    }
  },
});

/** Reports a queue's depth on /metrics until it is closed. */
export function reportQueueDepth(queue: Queue): void {
  queues.add(queue);
}

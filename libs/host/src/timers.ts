import type { Logger } from '@imm/logging';

export interface Timer {
  stop(): void;
}

/**
 * Runs `task` every `everyMs` (never keeping the process alive by itself); a failed run is logged
 * as `<name> failed` and the next one runs as planned.
 */
export function startTimer(name: string, everyMs: number, task: () => Promise<unknown>, logger: Logger): Timer {
  const timer = setInterval(() => {
    task().catch((error) => logger.warn({ err: error }, `${name} failed`));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

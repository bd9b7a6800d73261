import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

const running = new Set<ChildProcess>();
// A crashed test must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A server a test runs as its own child process (NATS, Redis). It is killed if the test process
 * exits first; `onExit` lets its owner forget it.
 */
export function spawnServer(command: string, args: string[], options: SpawnOptions, onExit: () => void): ChildProcess {
  const proc = spawn(command, args, options);
  running.add(proc);
  proc.once('exit', () => {
    running.delete(proc);
    onExit();
  });
  return proc;
}

/** Sends `signal`, escalates to SIGKILL after `graceMs`, and resolves once the process has exited. */
export async function stopServer(proc: ChildProcess, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

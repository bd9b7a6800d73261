import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The password hashes (bcrypt, and PBKDF2 for users imported from the Django service) on threads
 * of their own, at a lower scheduling priority than request handling: while sign-ins keep every
 * hashing thread busy, the event loops of this and the other processes still get the CPU first,
 * so a burst of sign-ins slows sign-ins, not everybody's reads. libuv's shared thread pool (where
 * bcrypt's async calls run) cannot be given a priority of its own; these threads can, because
 * Linux keeps a nice value per thread.
 */
export interface HashingThreads {
  bcryptHash(password: string, rounds: number): Promise<string>;
  bcryptCompare(password: string, encoded: string): Promise<boolean>;
  pbkdf2(password: string, salt: string, iterations: number, length: number, digest: string): Promise<Buffer>;
  close(): Promise<void>;
}

export interface HashingThreadsOptions {
  /** Threads at most; default one per core. */
  threads?: number;
  /** Their nice value (0 to 19; 0 keeps the priority of request handling). */
  nice: number;
  /** A thread idle this long ends (default 30 s); the next hash starts one again. */
  idleMs?: number;
  /**
   * Threads started at once and kept while idle (default 1): a lone sign-in never waits for a
   * thread to start (150–300 ms on a busy machine), and an idle service holds one isolate, not four.
   */
  warm?: number;
}

/**
 * Each thread is an isolate of its own (~18 MB resident): beyond the warm ones they start when
 * hashes are asked for, up to one per hash running at once, and end after a while idle.
 */
const DEFAULT_IDLE_MS = 30_000;

type Task = { op: 'hash' | 'compare' | 'pbkdf2'; args: unknown[] };
type Pending = Task & { resolve(value: unknown): void; reject(error: Error): void };

// CommonJS evaluated in the worker: nothing to resolve or bundle besides bcrypt itself.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pbkdf2Sync } = require('node:crypto');
const bcrypt = require(workerData.bcrypt);
// Only ever lower the priority (a process started niced stays as niced as that).
const os = require('node:os');
try { os.setPriority(0, Math.max(os.getPriority(0), workerData.nice)); } catch {}
const ops = {
  hash: (password, rounds) => bcrypt.hashSync(password, rounds),
  compare: (password, encoded) => bcrypt.compareSync(password, encoded),
  pbkdf2: (password, salt, iterations, length, digest) => pbkdf2Sync(password, salt, iterations, length, digest),
};
parentPort.on('message', ({ op, args }) => {
  try { parentPort.postMessage({ value: ops[op](...args) }); }
  catch (error) { parentPort.postMessage({ error: String((error && error.message) || error) }); }
});`;

export function startHashingThreads(options: HashingThreadsOptions): HashingThreads {
  const bcryptPath = createRequire(import.meta.url).resolve('bcrypt');
  const count = Math.max(1, options.threads ?? availableParallelism());
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  const warm = Math.min(count, Math.max(0, options.warm ?? 1));
  const queue: Pending[] = [];
  const idle: Worker[] = [];
  const running = new Map<Worker, Pending>();
  const idleTimers = new Map<Worker, NodeJS.Timeout>();
  let closed = false;

  function dispatch(): void {
    // A new thread takes its first message once it is online; until then the message waits for it.
    while (queue.length > idle.length && idle.length + running.size < count) spawn();
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop() as Worker;
      const task = queue.shift() as Pending;
      clearTimeout(idleTimers.get(worker));
      idleTimers.delete(worker);
      running.set(worker, task);
      worker.postMessage({ op: task.op, args: task.args });
    }
  }

  function rest(worker: Worker): void {
    idle.push(worker);
    if (idle.length + running.size - idleTimers.size <= warm) return;
    const timer = setTimeout(() => {
      idleTimers.delete(worker);
      const at = idle.indexOf(worker);
      if (at >= 0) idle.splice(at, 1);
      void worker.terminate();
    }, idleMs);
    timer.unref();
    idleTimers.set(worker, timer);
  }

  function forget(worker: Worker): void {
    clearTimeout(idleTimers.get(worker));
    idleTimers.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  }

  function spawn(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: bcryptPath, nice: options.nice } });
    worker.unref();
    worker.on('message', (reply: { value?: unknown; error?: string }) => {
      const task = running.get(worker);
      running.delete(worker);
      rest(worker);
      if (reply.error !== undefined) task?.reject(new Error(reply.error));
      else task?.resolve(reply.value);
      dispatch();
    });
    // A thread that dies (out of memory, a crash in the addon) fails its task; the next task
    // waiting starts another.
    worker.on('exit', () => {
      const task = running.get(worker);
      running.delete(worker);
      forget(worker);
      task?.reject(new Error('a hashing thread exited'));
      if (!closed) dispatch();
    });
    worker.on('error', () => {}); // followed by 'exit'
    idle.push(worker);
  }

  for (let i = 0; i < warm; i++) spawn();

  const run = <T>(op: Task['op'], args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      if (closed) return reject(new Error('hashing threads are closed'));
      queue.push({ op, args, resolve: resolve as (value: unknown) => void, reject });
      dispatch();
    });

  return {
    bcryptHash: (password, rounds) => run('hash', [password, rounds]),
    bcryptCompare: (password, encoded) => run('compare', [password, encoded]),
    pbkdf2: async (password, salt, iterations, length, digest) =>
      Buffer.from(await run<Uint8Array>('pbkdf2', [password, salt, iterations, length, digest])),
    async close() {
      closed = true;
      for (const task of queue.splice(0)) task.reject(new Error('hashing threads are closed'));
      for (const timer of idleTimers.values()) clearTimeout(timer);
      await Promise.all([...idle, ...running.keys()].map((worker) => worker.terminate()));
    },
  };
}

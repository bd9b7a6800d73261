import { ServiceUnavailableError } from '@imm/errors';
import PQueue from 'p-queue';

export interface PasswordWorkOptions {
  /** Hashes and checks run at once (libuv's thread pool has 4 threads by default). */
  concurrency: number;
  /** Waiting beyond the running ones; one more is refused at once with 503 and Retry-After. */
  maxQueued: number;
}

export interface PasswordWork {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/**
 * A bounded queue in front of bcrypt and PBKDF2: a burst of sign-ups or sign-ins gets a quick 503
 * instead of a wait that grows with the burst and stalls everybody else's sign-in.
 */
export function createPasswordWork(options: PasswordWorkOptions): PasswordWork {
  const queue = new PQueue({ concurrency: options.concurrency });
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      if (queue.size >= options.maxQueued) {
        return Promise.reject(new ServiceUnavailableError('down', 'password_work_busy', 1));
      }
      return queue.add(task);
    },
  };
}

import { Gauge, Histogram } from '@imm/telemetry';
import type { PasswordWork } from './password-work';
import type { PasswordHasher } from '../domain/passwords';

const hashing = new Histogram({
  name: 'imm_auth_password_hashing_seconds',
  help: 'From asking for a password hash or check to its answer: the wait in the password-work queue plus the bcrypt/PBKDF2 work itself',
  labelNames: ['operation'],
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

const inFlight = new Gauge({
  name: 'imm_auth_password_hashing_in_flight',
  help: 'Password hashes and checks asked for and not answered yet (waiting in the queue or running)',
});

function measured<A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) {
  const observer = hashing.labels(operation);
  return async (...args: A): Promise<R> => {
    const started = performance.now();
    inFlight.inc();
    try {
      return await fn(...args);
    } finally {
      inFlight.dec();
      observer.observe((performance.now() - started) / 1000);
    }
  };
}

/** The same hasher, its every call timed and counted while in flight. */
export function measuredHasher(hasher: PasswordHasher): PasswordHasher {
  return {
    hash: measured('hash', hasher.hash),
    verify: measured('verify', hasher.verify),
    verifyNothing: measured('verify', hasher.verifyNothing),
  };
}

const queueWait = new Histogram({
  name: 'imm_auth_password_queue_wait_seconds',
  help: 'How long a password hash or check waited in the password-work queue before it started',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});

const queued = new Gauge({
  name: 'imm_auth_password_queue_waiting',
  help: 'Password hashes and checks waiting in the password-work queue (PASSWORD_WORK_QUEUE refuses more)',
});

/** The same queue, with each task's wait before it started observed. */
export function measuredPasswordWork(work: PasswordWork): PasswordWork {
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const asked = performance.now();
      let started = false;
      queued.inc();
      return work
        .run(() => {
          started = true;
          queued.dec();
          queueWait.observe((performance.now() - asked) / 1000);
          return task();
        })
        .finally(() => {
          // Refused at once (the queue was full): it never started.
          if (!started) queued.dec();
        });
    },
  };
}

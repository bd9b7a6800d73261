import { Gauge, Histogram } from '@imm/telemetry';
import type { PasswordHasher } from './domain/passwords';

const hashing = new Histogram({
  name: 'imm_auth_password_hashing_seconds',
  help: 'From asking for a password hash or check to its answer: the wait for a free libuv thread plus the bcrypt/PBKDF2 work itself',
  labelNames: ['operation'],
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

const inFlight = new Gauge({
  name: 'imm_auth_password_hashing_in_flight',
  help: 'Password hashes and checks asked for and not answered yet; past the libuv thread pool size (UV_THREADPOOL_SIZE, 4) they queue',
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

import { pbkdf2Sync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { waitFor } from '@imm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { startHashingThreads } from '../src/adapters/hashing-threads';

const threads = startHashingThreads({ threads: 2, nice: 7 });
afterAll(() => threads.close());

/** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function niceValues(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('hashing threads', () => {
  it('hashes and checks bcrypt, and derives PBKDF2 as node:crypto does', async () => {
    const encoded = await threads.bcryptHash('molding-42', 4);
    expect(encoded).toMatch(/^\$2b\$04\$/);
    expect(await threads.bcryptCompare('molding-42', encoded)).toBe(true);
    expect(await threads.bcryptCompare('molding-43', encoded)).toBe(false);
    const derived = await threads.pbkdf2('pw', 'salt', 1000, 32, 'sha256');
    expect(derived.equals(pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256'))).toBe(true);
  });

  it('runs at the configured lower priority, on threads of its own', async () => {
    // Both threads busy at once, so both have started.
    await Promise.all([threads.bcryptHash('a-password', 6), threads.bcryptHash('b-password', 6)]);
    const [main = 0, ...others] = niceValues();
    expect(main).toBe(getPriority(0)); // the main thread keeps its priority
    // Lowered to 7, never raised: a run started with a higher nice value keeps it everywhere.
    if (main < 7) expect(others.filter((nice) => nice === 7).length).toBe(2);
    else expect(others.every((nice) => nice >= main)).toBe(true);
  });

  it('fails a task with a clear error instead of hanging', async () => {
    await expect(threads.bcryptHash('x', 'not rounds' as unknown as number)).rejects.toThrow();
  });
});

describe('hashing threads while idle', () => {
  // Only a process started with a nice value below 7 tells its hashing threads by their priority.
  const countable = getPriority(0) < 7;
  const hashingThreadCount = () => niceValues().filter((nice) => nice === 7).length;

  it.runIf(countable)('start with the first hashes and end after a while without any', async () => {
    const before = hashingThreadCount();
    const lazy = startHashingThreads({ threads: 2, nice: 7, idleMs: 200, warm: 0 });
    try {
      expect(hashingThreadCount()).toBe(before); // none started before a hash is asked for
      await Promise.all([lazy.bcryptHash('a-password', 4), lazy.bcryptHash('b-password', 4)]);
      expect(hashingThreadCount()).toBe(before + 2);
      await waitFor(() => hashingThreadCount() === before, { timeoutMs: 5_000 });
      // The next hash starts a thread again.
      expect(await lazy.bcryptCompare('a-password', await lazy.bcryptHash('a-password', 4))).toBe(true);
    } finally {
      await lazy.close();
    }
  });

  it.runIf(countable)('keep the warm ones while idle, and end only the others', async () => {
    const before = hashingThreadCount();
    const warm = startHashingThreads({ threads: 2, nice: 7, idleMs: 200, warm: 1 });
    try {
      await waitFor(() => hashingThreadCount() === before + 1, { timeoutMs: 5_000 }); // started at once
      await Promise.all([warm.bcryptHash('a-password', 4), warm.bcryptHash('b-password', 4)]);
      expect(hashingThreadCount()).toBe(before + 2);
      await waitFor(() => hashingThreadCount() === before + 1, { timeoutMs: 5_000 });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(hashingThreadCount()).toBe(before + 1);
    } finally {
      await warm.close();
    }
  });
});

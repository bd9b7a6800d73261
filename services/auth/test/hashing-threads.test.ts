import { pbkdf2Sync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
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
    const values = niceValues();
    expect(values.filter((nice) => nice === 7).length).toBe(2);
    expect(values[0]).toBe(0); // the main thread keeps its priority
  });

  it('fails a task with a clear error instead of hanging', async () => {
    await expect(threads.bcryptHash('x', 'not rounds' as unknown as number)).rejects.toThrow();
  });
});

import { randomBytes } from 'node:crypto';

function safeTag(tag: string, max: number): string {
  return tag
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, max);
}

/**
 * A name no other test (in this or a parallel process) uses: safe as a database name, schema,
 * stream/subject prefix or Redis key prefix (lower-case letters, digits, underscores; ≤ 40 chars).
 */
export function uniqueName(tag: string): string {
  return `t_${safeTag(tag, 16)}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

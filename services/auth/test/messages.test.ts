import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenMessages } from '@imm/auth';
import { catalogProblems, webMessages } from '@imm/web';
import { describe, expect, it } from 'vitest';
import { authMessages } from '../src/entry/http/messages';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourcesUnder(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Where the service names a message key: error constructors, field errors, field maps, rules, zod checks. */
const KEY_PATTERNS = [
  /(?:Unauthenticated|PermissionDenied|NotFound|BadRequest|Conflict)Error\('(\w+)'/g,
  /ServiceUnavailableError\('\w+', '(\w+)'/g,
  /\.field\([^,()]+, '(\w+)'/g,
  /\bkey: '(\w+)'/g,
  /problems\.push\('(\w+)'\)/g,
  /\.(?:min|max|regex)\([^()]*, '(\w+)'\)/g,
];

function keysNamedIn(source: string): string[] {
  return KEY_PATTERNS.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1] as string));
}

describe("the auth service's messages", () => {
  it('has an English and a Korean text for every key', () => {
    expect(catalogProblems(authMessages)).toEqual([]);
  });

  it('has a text for every key its code names, in its own catalog or one it registers', () => {
    const known = new Set([webMessages, tokenMessages, authMessages].flatMap((catalog) => Object.keys(catalog.en)));
    const named = sourcesUnder(SRC).flatMap((file) =>
      keysNamedIn(readFileSync(file, 'utf8')).map((key) => ({ file: relative(SRC, file), key })),
    );
    // Built from the field, so no pattern sees them: a concurrent sign-up took the name or email.
    named.push(...['username', 'email'].map((field) => ({ file: 'domain/accounts.ts', key: `${field}_taken` })));
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter(({ key }) => !known.has(key))).toEqual([]);
  });

  it('owns only keys no one else has: none of libs/web or the token verifier', () => {
    const others = new Set([...Object.keys(webMessages.en), ...Object.keys(tokenMessages.en)]);
    expect(Object.keys(authMessages.en).filter((key) => others.has(key))).toEqual([]);
  });

  it('reads keys where the code names them', () => {
    const sample = [
      "throw new UnauthenticatedError('user_inactive');",
      "throw new ServiceUnavailableError('down', 'password_work_busy', 1);",
      "throw ValidationError.field('old_password', 'password_incorrect');",
      "taken.email = [{ key: 'email_taken' }];",
      "if (short) problems.push('password_too_short');",
      "z.string().regex(USERNAME_PATTERN, 'invalid_username')",
    ].join('\n');
    expect(keysNamedIn(sample).sort()).toEqual(
      [
        'email_taken',
        'invalid_username',
        'password_incorrect',
        'password_too_short',
        'password_work_busy',
        'user_inactive',
      ].sort(),
    );
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DOMAIN = fileURLToPath(new URL('../src/domain', import.meta.url));

/** Every `import … from '…'` and `export … from '…'` of a file, with whether it is type-only. */
function importsOf(source: string): { from: string; typeOnly: boolean }[] {
  const found: { from: string; typeOnly: boolean }[] = [];
  for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    found.push({ from: match[2] as string, typeOnly: match[1] !== undefined });
  }
  for (const match of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g))
    found.push({ from: match[1] as string, typeOnly: false });
  return found;
}

/** What the rules and use cases may use: the shared contracts and errors, @imm/auth's types, plain code. */
function allowed({ from, typeOnly }: { from: string; typeOnly: boolean }): boolean {
  if (from.startsWith('./')) return true;
  if (from === '@imm/contracts' || from === '@imm/errors' || from === 'node:crypto') return true;
  return from === '@imm/auth' && typeOnly;
}

describe('layout', () => {
  it('keeps domain/ free of frameworks, drivers and adapters', () => {
    const files = readdirSync(DOMAIN).filter((name) => name.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    const offending = files.flatMap((name) =>
      importsOf(readFileSync(join(DOMAIN, name), 'utf8'))
        .filter((imported) => !allowed(imported))
        .map((imported) => `${name}: ${imported.typeOnly ? 'type ' : ''}${imported.from}`),
    );
    expect(offending).toEqual([]);
  });

  it('reads imports as the rule above needs them read', () => {
    const sample = [
      "import { a } from '../adapters/data/entities';",
      "import type { B } from '@imm/auth';",
      "import {\n  C,\n  D,\n} from '@imm/db';",
      "export { E } from './e';",
    ].join('\n');
    expect(importsOf(sample)).toEqual([
      { from: '../adapters/data/entities', typeOnly: false },
      { from: '@imm/auth', typeOnly: true },
      { from: '@imm/db', typeOnly: false },
      { from: './e', typeOnly: false },
    ]);
    expect(
      importsOf(sample)
        .filter((imported) => !allowed(imported))
        .map((i) => i.from),
    ).toEqual(['../adapters/data/entities', '@imm/db']);
  });
});

import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The layout rule lives in biome.json (noRestrictedImports, scoped by `overrides`). These tests lint
// fixture files with the repository's own biome.json, copied into a temporary tree shaped like
// the repository, so they check the configuration that `npm run lint` applies.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
const RULE = 'lint/style/noRestrictedImports';

const fixtures: Record<string, string> = {
  'services/x/src/domain/uses-express.ts': "import express from 'express';\nexport const app = express();\n",
  'services/x/src/domain/uses-orm.ts': "import { MikroORM } from '@mikro-orm/core';\nexport const orm = MikroORM;\n",
  'services/x/src/domain/uses-edge-libs.ts': [
    "import { route } from '@imm/web';",
    "import type { Database } from '@imm/db';",
    "export { connectBus } from '@imm/bus';",
    'export const edge: [typeof route, Database | undefined] = [route, undefined];',
    '',
  ].join('\n'),
  'services/x/src/domain/uses-entry.ts': "import { router } from '../entry/http/router';\nexport const r = router;\n",
  'services/x/src/domain/deep/uses-adapters.ts':
    "import { createStore } from '../../adapters/data/store';\nexport const s = createStore;\n",
  'services/x/src/domain/clean.ts': [
    "import type { Principal } from '@imm/auth';",
    "import { MachineStatus } from '@imm/contracts';",
    "import { NotFoundError } from '@imm/errors';",
    "import { orderFields } from './listing';",
    'export function check(caller: Principal, status: number): void {',
    '  if (status !== MachineStatus.READY || caller.id < 0) throw new NotFoundError();',
    '  void orderFields;',
    '}',
    '',
  ].join('\n'),
  'services/x/src/adapters/data/uses-entry.ts':
    "import { schema } from '../../entry/http/schemas';\nexport const s = schema;\n",
  'services/x/src/adapters/data/clean.ts': [
    "import { defineEntity } from '@imm/db';",
    "import type { Store } from '../../domain/store';",
    "import { recordEvent } from '../events/recorder';",
    'export const parts: [typeof defineEntity, Store | undefined, typeof recordEvent] = [defineEntity, undefined, recordEvent];',
    '',
  ].join('\n'),
  // The ways in use express and the adapters: the rule is scoped, not a ban on the repository.
  'services/x/src/entry/http/router.ts': "import { Router } from 'express';\nexport const router = Router();\n",
};

interface Diagnostic {
  category: string;
  severity: string;
  location: { path: string; start: { line: number } };
}

let dir: string;
let diagnostics: Diagnostic[];

function lint(cwd: string): Promise<Diagnostic[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [biome, 'lint', '--reporter=json', '--max-diagnostics=none', 'services'],
      { cwd },
      (error, stdout, stderr) => {
        // Exit code 1 is "errors found"; anything without a JSON report is a broken run.
        try {
          resolve((JSON.parse(stdout) as { diagnostics: Diagnostic[] }).diagnostics);
        } catch {
          reject(new Error(`biome gave no report (${error?.message ?? 'no error'}): ${stderr}`));
        }
      },
    );
  });
}

const of = (path: string) => diagnostics.filter((d) => d.location.path.replaceAll('\\', '/') === path);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layout-rule-'));
  await copyFile(join(root, 'biome.json'), join(dir, 'biome.json'));
  for (const [path, text] of Object.entries(fixtures)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  diagnostics = await lint(dir);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the layout rule (biome.json)', () => {
  it('refuses express and MikroORM in a domain file', () => {
    for (const path of ['services/x/src/domain/uses-express.ts', 'services/x/src/domain/uses-orm.ts']) {
      expect(of(path).map((d) => [d.category, d.severity, d.location.start.line])).toEqual([[RULE, 'error', 1]]);
    }
  });

  it('refuses @imm/web, @imm/db and @imm/bus in a domain file, also as a type import or a re-export', () => {
    const found = of('services/x/src/domain/uses-edge-libs.ts').filter((d) => d.category === RULE);
    expect(found.map((d) => d.location.start.line)).toEqual([1, 2, 3]);
  });

  it('refuses relative imports from the domain into entry/ or adapters/, at any depth', () => {
    expect(of('services/x/src/domain/uses-entry.ts').map((d) => d.category)).toEqual([RULE]);
    expect(of('services/x/src/domain/deep/uses-adapters.ts').map((d) => d.category)).toEqual([RULE]);
  });

  it('refuses an adapter importing entry/', () => {
    expect(of('services/x/src/adapters/data/uses-entry.ts').map((d) => d.category)).toEqual([RULE]);
  });

  it('passes a clean domain file, an adapter using the database and the domain, and express in entry/', () => {
    expect(of('services/x/src/domain/clean.ts')).toEqual([]);
    expect(of('services/x/src/adapters/data/clean.ts')).toEqual([]);
    expect(of('services/x/src/entry/http/router.ts')).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import {
  dropRedisKeys,
  dropStreams,
  dropTestDatabase,
  freePort,
  spawnProcess,
  testInfrastructure,
  waitFor,
} from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processes } from '../../processes';
import { buildDist } from '../../scripts/build-dist';
import { read, root, workspaceManifests } from './support';

/**
 * The production build (`npm run build:dist`, what the image runs): built here, then one process
 * started from it with plain node, as the image's command does, so that command is known to run.
 */
beforeAll(async () => {
  await buildDist();
}, 60_000);

type Manifest = { name: string; dependencies?: Record<string, string> };
const manifests = workspaceManifests().map((path) => JSON.parse(read(path)) as Manifest);

/** The npm packages a workspace package may load at run time: its dependencies and its libraries'. */
function productionDependencies(name: string, seen = new Set<string>()): Set<string> {
  const manifest = manifests.find((m) => m.name === name);
  const found = new Set<string>();
  if (!manifest || seen.has(name)) return found;
  seen.add(name);
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    if (dependency.startsWith('@imm/')) for (const d of productionDependencies(dependency, seen)) found.add(d);
    else found.add(dependency);
  }
  return found;
}

const packageOf = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);

/** A compiled file with the chunks it imports (what it loads lazily is a chunk beside it). */
function withChunks(file: string, seen = new Set<string>()): string {
  if (seen.has(file)) return '';
  seen.add(file);
  const code = readFileSync(file, 'utf8');
  const chunks = [...code.matchAll(/(?:from\s*|import\s*\(\s*)["'](\.\/[^"']+\.js)["']/g)].map((m) =>
    join(dirname(file), m[1] as string),
  );
  return [code, ...chunks.map((chunk) => withChunks(chunk, seen))].join('\n');
}

/** The npm packages a compiled file loads at start: its static imports and its static chunks'. */
function loadedAtStart(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const code = readFileSync(file, 'utf8');
  return [...code.matchAll(/^import\s(?:[^;]*?\sfrom\s*)?["']([^"']+)["']/gm)].flatMap((m) => {
    const specifier = m[1] as string;
    return specifier.startsWith('./') ? loadedAtStart(join(dirname(file), specifier), seen) : [packageOf(specifier)];
  });
}

describe('npm run build:dist', () => {
  it('leaves the database and bus libraries out of what the gateway loads at start', () => {
    const loaded = loadedAtStart(`${root}/gateway/dist/main.js`);
    expect(loaded).toContain('express');
    for (const unused of ['@mikro-orm/postgresql', '@mikro-orm/migrations', 'pg', 'nats']) {
      expect(loaded).not.toContain(unused);
    }
    // ...which a service does load, but never the migrator (that runs on a thread of its own).
    const service = loadedAtStart(`${root}/services/machines/dist/main.js`);
    expect(service).toEqual(expect.arrayContaining(['@mikro-orm/postgresql', 'nats']));
    expect(service).not.toContain('@mikro-orm/migrations');
  });

  for (const p of processes) {
    it(`compiles ${p.entry} to ${p.compiled}, loading only production dependencies of ${p.package}`, () => {
      const code = withChunks(`${root}/${p.compiled}`);
      const specifiers = [
        ...code.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"'.][^"']*)["']/g),
      ].map((m) => m[1] as string);
      expect(specifiers).toContain('express');
      const allowed = productionDependencies(p.package);
      const builtins = new Set(builtinModules);
      for (const specifier of specifiers) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        expect(specifier.startsWith('@imm/'), `${specifier} should be bundled`).toBe(false);
        expect([...allowed], `${p.compiled} imports ${specifier}`).toContain(packageOf(specifier));
      }
      expect(code).not.toMatch(/["'](tsx|typescript|esbuild)["']/);
    });
  }
});

describe('a process started from the compiled output', () => {
  const infrastructure = testInfrastructure('dist');
  afterAll(async () => {
    await dropTestDatabase(infrastructure.DATABASE_URL).catch(() => {});
    await dropStreams('nats://127.0.0.1:4222', infrastructure.BUS_PREFIX);
    await dropRedisKeys('redis://127.0.0.1:6379', infrastructure.REDIS_PREFIX);
  });

  it('serves its health routes and the API in RELEASE with NODE_ENV=production, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    // The machines service: it needs all three servers, migrates its schema, consumes and publishes.
    const machines = spawnProcess(
      'machines',
      { ...infrastructure, MODE: 'RELEASE', NODE_ENV: 'production', PORT: String(port), LOG_LEVEL: 'info' },
      { compiled: true },
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 30_000, intervalMs: 200 });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const unauthenticated = await fetch(`${base}/api/machines/`);
      expect(unauthenticated.status).toBe(401);
      expect(await unauthenticated.json()).toMatchObject({ status: 0, error_code: 3 });
      expect(machines.output()).toContain('migrations applied');
      // Straight to node, as the image's exec-form command: the signal reaches it and it drains.
      expect(await machines.kill('SIGTERM')).toBe(0);
      expect(machines.output()).toContain('SIGTERM received');
    } finally {
      await machines.kill('SIGKILL');
    }
  });
});

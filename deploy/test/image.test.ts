import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processes, telemetryPreload } from '../../processes';
import { tools } from '../../scripts/build-dist';
import { read, root, workspaceManifests } from './support';

/** deploy/Dockerfile and .dockerignore, read as text (no Docker engine runs here). */
const dockerfile = read('deploy/Dockerfile');
const stages = dockerfile.split(/^FROM /m).slice(1);
const stageNamed = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS ${name}\\b`).test(s)) ?? '';
const runtime = stages.at(-1) ?? '';
const manifest = (path: string) => JSON.parse(read(path)) as Record<string, Record<string, string> | undefined>;

describe('deploy/Dockerfile', () => {
  it('builds on the Node major the tests run on, pinned to a release', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-[\w-]+$/m.exec(dockerfile);
    expect(image?.[1]).toBe(process.versions.node.split('.')[0]);
    for (const stage of stages) expect(stage).toMatch(/^\$\{NODE_IMAGE\} AS \w+/);
  });

  it('compiles in a build stage and runs the compiled JavaScript in a runtime stage without sources or compiler', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stageNamed('build')).toContain('RUN npm run build:dist');
    expect(runtime).toMatch(/^\$\{NODE_IMAGE\} AS runtime/);
    // Nothing copied into the runtime from the build context: only built output and installed packages.
    expect(runtime).not.toMatch(/^COPY (?!--from=)/m);
    expect(runtime).not.toMatch(/tsx|typescript|\bsrc\b|npm run build/);
    const copiedDist = [...runtime.matchAll(/^COPY --from=build \S+ \/app\/(\S+) \S+$/gm)].map((m) => m[1]);
    const needed = [
      ...new Set([...processes, ...tools, telemetryPreload].map((p) => p.compiled.replace(/\/[^/]+$/, ''))),
    ];
    expect(copiedDist.sort()).toEqual(needed.sort());
    // Every process, whatever command compose or Kubernetes gives it, starts with the telemetry preload.
    expect(runtime).toContain(`--import /app/${telemetryPreload.compiled}`);
  });

  it('installs only production dependencies for the runtime, from the lock file', () => {
    expect(stageNamed('dependencies')).toContain('RUN npm ci --omit=dev');
    expect(runtime).toContain('COPY --from=dependencies');
    // tsx and the compilers are development tools: nothing the runtime needs.
    const workspaces = ['package.json', ...workspaceManifests()];
    for (const path of workspaces) {
      const deps = manifest(path).dependencies ?? {};
      for (const tool of ['tsx', 'typescript', 'esbuild']) expect(deps[tool], `${path} ${tool}`).toBeUndefined();
    }
  });

  it('copies every workspace manifest into both install stages, and only those', () => {
    const expected = workspaceManifests().sort();
    const build = [...stageNamed('build').matchAll(/^COPY (\S+\/package\.json) /gm)].map((m) => m[1]);
    const deps = [...stageNamed('dependencies').matchAll(/^COPY --from=build \/app\/(\S+\/package\.json) /gm)].map(
      (m) => m[1],
    );
    expect([...build].sort()).toEqual(expected);
    expect([...deps].sort()).toEqual(expected);
  });

  it('runs as a non-root user, in production mode, with a health check and node as PID 1', () => {
    expect(runtime).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/m);
    expect(runtime).toMatch(/^ENV .*NODE_ENV=production/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/readyz/m);
    // Exec form: no shell in between, so SIGTERM reaches node.
    const gateway = processes.find((p) => p.public);
    expect(runtime).toMatch(new RegExp(`^CMD \\["node", "${gateway?.compiled}"\\]$`, 'm'));
    expect(runtime).not.toMatch(/^ENTRYPOINT/m);
  });
});

describe('.dockerignore', () => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps local dependencies, builds and secrets out of the build context', () => {
    for (const entry of ['.git', '**/node_modules', '**/dist', '.env', '.env.*']) expect(ignored).toContain(entry);
  });

  it('keeps what the build needs in it', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'processes.ts',
      'scripts/build-dist.ts',
      ...processes.map((p) => p.entry),
    ];
    for (const path of needed) {
      expect(existsSync(`${root}/${path}`), path).toBe(true);
      expect(
        ignored.some((pattern) => matches(pattern, path)),
        path,
      ).toBe(false);
    }
  });
});

/** .dockerignore's patterns, as far as this file uses them: `**` any folders, `*` within a name. */
function matches(pattern: string, path: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*\//g, '(.*/)?')
    .replace(/\*/g, '[^/]*');
  return new RegExp(`^${regex}(/.*)?$`).test(path);
}

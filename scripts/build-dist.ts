/**
 * `npm run build:dist`: the production build. Each process's entry becomes one JavaScript file
 * beside its sources (`gateway/src/main.ts` → `gateway/dist/main.js`), with a chunk beside it for
 * each module it imports lazily (`import()`), so paths a module resolves relative to itself (its
 * package.json, its assets) hold as they do in `src/`. Our own workspace libraries are bundled in
 * (they export TypeScript); npm packages stay outside and are loaded from node_modules at run time,
 * as installed by `npm ci --omit=dev`, native addons included.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { processes, telemetryPreload } from '../processes';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Bare imports that are not `@imm/*` are npm packages: left for node to load. */
const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@imm/') || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

/** Command-line tools that ship in the image beside the processes. */
export const tools = [
  {
    directory: 'tools/django-import',
    entry: 'tools/django-import/src/main.ts',
    compiled: 'tools/django-import/dist/main.js',
  },
];

export async function buildDist(): Promise<string[]> {
  // The telemetry preload is a file of its own: node loads it (`--import`) before the entry.
  const targets = [...processes, ...tools, telemetryPreload];
  const results = await Promise.all(
    targets.map((p) =>
      build({
        absWorkingDir: root,
        entryPoints: [p.entry],
        outdir: dirname(p.compiled),
        entryNames: '[name]',
        bundle: true,
        // A module imported with `import()` (node-opcua's part of the worker) becomes a file of its
        // own beside the entry, loaded only when imported: bundled into the entry, the npm packages
        // it imports would be imported at the top of the entry, at start. Same folder, so paths
        // relative to a module still hold.
        splitting: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        sourcemap: true,
        // Stack traces name the TypeScript files and lines.
        sourcesContent: false,
        logLevel: 'warning',
        plugins: [npmPackagesExternal],
        write: false,
      }),
    ),
  );
  // Each file replaced in one rename: a process starting meanwhile (or a second build running at
  // the same time) never reads half a file.
  for (const file of results.flatMap((r) => r.outputFiles)) {
    await mkdir(dirname(file.path), { recursive: true });
    const temporary = `${file.path}.${process.pid}.tmp`;
    await writeFile(temporary, file.contents);
    await rename(temporary, file.path);
  }
  return targets.map((p) => p.compiled);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await buildDist();
  process.stdout.write(`built ${files.join(', ')}\n`);
}

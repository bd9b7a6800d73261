/**
 * `npm run bench`: runs every benchmark of the project (`services/*\/bench/*.ts`,
 * `gateway/bench/*.ts`) one after another, each in its own process, and fails if any fails.
 * Benchmarks print their measurements and check them against their own targets.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = ['gateway', ...readdirSync(join(root, 'services')).map((name) => `services/${name}`)];
const benches = packages.flatMap((dir) => {
  const bench = join(root, dir, 'bench');
  return existsSync(bench)
    ? readdirSync(bench)
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(dir, 'bench', file))
    : [];
});

let failed = 0;
for (const bench of benches) {
  process.stdout.write(`\n=== ${bench}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', bench], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.stdout.write(`\nbenchmarks: ${benches.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);

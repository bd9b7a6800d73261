/**
 * The packages' own microbenchmarks (`services/*\/bench/*.ts`, `gateway/bench/*.ts`), each in its
 * own process, one after another; fails if any fails. They check their measurements against their
 * own targets (e.g. the machine list query at 100,000 machines).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function runMicrobenchmarks(): number {
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
  process.stdout.write(`\nmicrobenchmarks: ${benches.length - failed} passed, ${failed} failed\n`);
  return failed;
}

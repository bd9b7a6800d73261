/**
 * `npm run bench`: the benchmark harness (bench/run.ts; `npm run bench -- --help` lists its options).
 *   npm run bench -- --micro               the packages' microbenchmarks (services/*\/bench) instead
 *   npm run bench -- --compare A.json B.json   two results side by side
 */
import { compareFiles } from '../bench/compare';
import { runMicrobenchmarks } from '../bench/micro';
import { OptionError } from '../bench/src/options';
import { runBench } from '../bench/run';

const args = process.argv.slice(2);

async function main(): Promise<number> {
  if (args.includes('--micro')) return runMicrobenchmarks() > 0 ? 1 : 0;
  const compare = args.indexOf('--compare');
  if (compare >= 0) {
    compareFiles(args.slice(compare + 1));
    return 0;
  }
  await runBench(args);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof OptionError) {
      process.stderr.write(`${error.message}\n(npm run bench -- --help lists the options)\n`);
      process.exit(64);
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

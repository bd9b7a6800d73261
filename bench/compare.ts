/**
 * Prints two result files side by side with ratios (> 1: the second is better):
 *   npm run bench -- --compare bench/results/<drf>.json bench/results/<imm>.json
 */
import { readFileSync } from 'node:fs';
import { OptionError } from './src/options';
import { formatComparison } from './src/report';
import type { BenchResult } from './src/result';

function load(file: string): BenchResult {
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  if (result.format !== 1) throw new Error(`${file}: not a result of this harness (format ${result.format})`);
  return result;
}

export function compareFiles(files: string[]): void {
  const [first, second] = files;
  if (!first || !second || files.length !== 2) throw new OptionError('--compare needs two result files: A.json B.json');
  process.stdout.write(`${formatComparison(load(first), load(second))}\n`);
}

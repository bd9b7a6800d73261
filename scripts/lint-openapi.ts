/**
 * `npm run lint`'s OpenAPI part: Redocly CLI's linter (rules in redocly.yaml) on the document the
 * code builds, written to a temporary file for the run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOpenApiDocument } from './openapi-document';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const redocly = join(dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

const dir = mkdtempSync(join(tmpdir(), 'imm-openapi-'));
let status: number;
try {
  const file = join(dir, 'openapi.json');
  writeOpenApiDocument(file);
  const result = spawnSync(process.execPath, [redocly, 'lint', '--config', join(root, 'redocly.yaml'), file], {
    stdio: 'inherit',
    // No usage report and no version check: lint runs offline, in CI too.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  status = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);

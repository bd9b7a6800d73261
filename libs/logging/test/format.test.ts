import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

async function logOneLine(env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'libs/logging/test/fixtures/log-one-line.ts'],
    { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } },
  );
  return stdout;
}

describe('LOG_FORMAT', () => {
  it('writes JSON lines by default', async () => {
    const line = JSON.parse(await logOneLine({}));
    expect(line).toMatchObject({
      service: 'format-test',
      msg: 'machine started',
      machineId: 7,
      password: '[redacted]',
    });
  });

  it('writes readable lines with LOG_FORMAT=pretty, coloured where colour is asked for, redacted all the same', async () => {
    const plain = await logOneLine({ LOG_FORMAT: 'pretty', NO_COLOR: '1' });
    expect(() => JSON.parse(plain)).toThrow();
    expect(plain).toMatch(/INFO.*machine started/);
    expect(plain).toContain('machineId: 7');
    expect(plain).not.toContain('hunter2');
    expect(plain).not.toContain('\u001b[');
    const coloured = await logOneLine({ LOG_FORMAT: 'pretty', FORCE_COLOR: '1' });
    expect(coloured).toContain('\u001b[');
    expect(coloured).not.toContain('hunter2');
  });
});

import type { ImportOutcome, UsersImportOutcome } from '@imm/contracts';
import { describe, expect, it } from 'vitest';
import { formatReport } from '../src/domain/report';
import { type ImportServices, runImport } from '../src/domain/run-import';

/** The order of the move: every part checked before any is written, users first. */
const source = {
  name: 'dump.json',
  data: {
    layout: 'accounts' as const,
    users: [
      {
        id: 10,
        password: 'pbkdf2_sha256$260000$s$h',
        username: 'kim',
        email: 'kim@plant.example',
        is_staff: false,
        is_active: true,
        is_superuser: false,
        date_joined: '2025-01-01T00:00:00Z',
      },
    ],
    machines: [
      {
        id: 1,
        name: 'p',
        location: 'hall',
        status: 1,
        owner_id: 10,
        created_at: '2025-01-01T00:00:00Z',
        updated_at: '2025-01-01T00:00:00Z',
      },
    ],
    history: [],
    ignored: {},
  },
};

function services(conflicts: { users?: string[]; machinesOnApply?: string[] } = {}) {
  const calls: string[] = [];
  const outcome = (ids: number[], extra: string[] = []): ImportOutcome => ({
    imported: ids,
    present: [],
    skipped: [],
    conflicts: extra,
  });
  const fake: ImportServices = {
    async users(_run, part, apply) {
      calls.push(`users ${apply ? 'write' : 'check'}`);
      return {
        ...outcome(
          part.users.map((u) => u.id),
          conflicts.users,
        ),
        mapped: [],
      } satisfies UsersImportOutcome;
    },
    async machines(_run, part, apply) {
      calls.push(`machines ${apply ? 'write' : 'check'}`);
      return outcome(
        part.machines.map((m) => m.id),
        apply ? conflicts.machinesOnApply : [],
      );
    },
    async history(_run, _part, apply) {
      calls.push(`history ${apply ? 'write' : 'check'}`);
      return outcome([]);
    },
    async finish() {
      calls.push('finish');
    },
  };
  return { fake, calls };
}

describe('runImport', () => {
  it('checks all three parts, then writes them in order', async () => {
    const { fake, calls } = services();
    const report = await runImport(source, { dryRun: false, replaceAdmin: false }, fake);
    expect(calls).toEqual([
      'users check',
      'machines check',
      'history check',
      'users write',
      'machines write',
      'history write',
      'finish',
    ]);
    expect(report).toMatchObject({ ok: true, changed: true, users: { written: true, imported: [10] } });
  });

  it('a conflict in any part: nothing is written', async () => {
    const { fake, calls } = services({ users: ['user id 10 (kim) is taken by our user lee'] });
    const report = await runImport(source, { dryRun: false, replaceAdmin: false }, fake);
    expect(calls).toEqual(['users check', 'machines check', 'history check', 'finish']);
    expect(report).toMatchObject({ ok: false, changed: false, users: { written: false } });
    expect(formatReport(report)).toContain('users: 1 to import');
    expect(formatReport(report)).toContain('FAILED, nothing imported:\n  user id 10 (kim) is taken by our user lee');
  });

  it('a dry run only checks', async () => {
    const { fake, calls } = services();
    const report = await runImport(source, { dryRun: true, replaceAdmin: false }, fake);
    expect(calls).toEqual(['users check', 'machines check', 'history check', 'finish']);
    expect(formatReport(report)).toContain('(dry run: nothing written)');
  });

  it('a row created between the check and the writing: the report says what was written', async () => {
    const { fake, calls } = services({ machinesOnApply: ['machine id 1 (p) is taken by one of ours'] });
    const report = await runImport(source, { dryRun: false, replaceAdmin: false }, fake);
    expect(calls).toEqual([
      'users check',
      'machines check',
      'history check',
      'users write',
      'machines write',
      'finish',
    ]);
    expect(report).toMatchObject({ ok: false, changed: true, users: { written: true }, machines: { written: false } });
    const text = formatReport(report);
    expect(text).toContain('users: 1 imported');
    expect(text).toContain('machines: 1 to import');
    expect(text).toContain('FAILED after writing part of it');
  });
});

import type { ImportedUser } from '@imm/contracts';
import { describe, expect, it } from 'vitest';
import { planUserImport } from '../src/domain/import-users';

/** Which old users are written, skipped or stop the import, against what the users table holds. */
const row = (id: number, username: string, email = `${username}@plant.example`): ImportedUser => ({
  id,
  username,
  email,
  password: 'pbkdf2_sha256$260000$salt$hash',
  first_name: '',
  last_name: '',
  is_staff: false,
  is_active: true,
  is_superuser: false,
  last_login: null,
  date_joined: '2025-01-01T00:00:00.000Z',
});
const ourAdmin = { id: 1, username: 'admin', email: 'admin@example.com' };
const held = (users = [ourAdmin], importedIds: number[] = []) => ({ users, importedIds: new Set(importedIds) });

describe('planUserImport', () => {
  it('keeps our admin unless asked, and maps the old one to it', () => {
    const plan = planUserImport([row(3, 'admin'), row(4, 'kim')], held(), false);
    expect(plan.reply).toMatchObject({
      imported: [4],
      skipped: [{ id: 3, reason: 'admin_kept' }],
      mapped: [{ id: 3, to: 1 }],
    });
    expect(plan.replacedAdminId).toBeUndefined();
  });

  it('an old user with our admin’s id: a conflict, unless the old admin replaces ours', () => {
    const without = planUserImport([row(1, 'kim'), row(2, 'admin')], held(), false);
    expect(without.reply.conflicts).toEqual([
      'user id 1 (kim) is taken by our user admin (--replace-admin replaces our admin by the old one and frees its id)',
    ]);
    expect(planUserImport([row(1, 'kim')], held(), true).reply.conflicts).toEqual([
      'user id 1 (kim) is taken by our user admin (the old service has no admin to replace ours with)',
    ]);
    const replacing = planUserImport([row(1, 'kim'), row(2, 'admin')], held(), true);
    expect(replacing.reply).toMatchObject({ imported: [1, 2], conflicts: [], mapped: [] });
    expect(replacing.replacedAdminId).toBe(1);
  });

  it('the old admin cannot replace ours when another of our users has its email: skipped, ours kept', () => {
    const other = { id: 7, username: 'lee', email: 'boss@plant.example' };
    const plan = planUserImport([row(3, 'admin', 'BOSS@plant.example')], held([ourAdmin, other]), true);
    expect(plan.reply).toMatchObject({ skipped: [{ id: 3, reason: 'email_taken' }], mapped: [{ id: 3, to: 1 }] });
    expect(plan.replacedAdminId).toBeUndefined();
  });

  it('skips a taken username or email, stops at a taken id or a duplicate within the source', () => {
    const ours = { id: 2, username: 'kim', email: 'kim@example.com' };
    const plan = planUserImport(
      [
        row(10, 'kim'),
        row(11, 'lee', 'KIM@example.com'),
        row(2, 'park'),
        row(12, 'choi', 'c@x'),
        row(13, 'cho', 'C@X'),
      ],
      held([ourAdmin, ours]),
      false,
    );
    expect(plan.reply.skipped).toEqual([
      { id: 10, reason: 'username_taken' },
      { id: 11, reason: 'email_taken' },
    ]);
    expect(plan.reply.conflicts).toEqual([
      'users choi and cho have the same email C@X (emails are unique ignoring case)',
      'user id 2 (park) is taken by our user kim',
    ]);
  });

  it('rows an earlier run wrote are there already, whatever happened to them since', () => {
    const plan = planUserImport(
      [row(1, 'admin'), row(4, 'kim')],
      held([{ ...ourAdmin, email: 'changed' }], [1, 4]),
      true,
    );
    expect(plan.reply).toMatchObject({ imported: [], present: [1, 4], conflicts: [] });
    expect(plan.inserts).toEqual([]);
  });
});

import type { ImportedUser, UsersImportOutcome } from '@imm/contracts';
import { ADMIN_USERNAME } from './accounts';

/** A user this service holds, as far as an import needs to know it. */
export interface HeldUser {
  id: number;
  username: string;
  email: string;
}

/** What the users table holds that an import's rows could collide with. */
export interface HeldUsers {
  /** Users with one of the rows' ids, usernames or emails (any case), and our `admin`. */
  users: HeldUser[];
  /** Ids an earlier import wrote. */
  importedIds: Set<number>;
}

export interface UserImportPlan {
  reply: UsersImportOutcome;
  /** The rows to insert, in id order. */
  inserts: ImportedUser[];
  /** Our `admin`, when the old one replaces it. */
  replacedAdminId: number | undefined;
}

const lower = (email: string) => email.toLowerCase();

/** Two rows of the part that cannot both exist: the same id, username, or email in any case. */
function duplicatesWithin(rows: ImportedUser[]): string[] {
  const conflicts: string[] = [];
  const seen = { id: new Map<number, string>(), username: new Map<string, string>(), email: new Map<string, string>() };
  for (const row of rows) {
    const id = seen.id.get(row.id);
    if (id !== undefined) conflicts.push(`users ${id} and ${row.username} have the same id ${row.id}`);
    const name = seen.username.get(row.username);
    if (name !== undefined) conflicts.push(`two users are named ${row.username}`);
    if (row.email !== '') {
      const other = seen.email.get(lower(row.email));
      if (other !== undefined) {
        conflicts.push(
          `users ${other} and ${row.username} have the same email ${row.email} (emails are unique ignoring case)`,
        );
      }
      seen.email.set(lower(row.email), row.username);
    }
    seen.id.set(row.id, row.username);
    seen.username.set(row.username, row.username);
  }
  return conflicts;
}

/** Why a row cannot be written beside `users`: a conflict that stops the import, or a skip. */
function obstacleTo(
  row: ImportedUser,
  users: HeldUser[],
  adminHint = '',
): { conflict: string } | { skip: string } | undefined {
  const byId = users.find((u) => u.id === row.id);
  if (byId) {
    const hint = byId.username === ADMIN_USERNAME ? adminHint : '';
    return { conflict: `user id ${row.id} (${row.username}) is taken by our user ${byId.username}${hint}` };
  }
  if (users.some((u) => u.username === row.username)) return { skip: 'username_taken' };
  if (row.email !== '' && users.some((u) => lower(u.email) === lower(row.email))) return { skip: 'email_taken' };
  return undefined;
}

/**
 * Decides, for every user of the old service, whether it is written, there already (an earlier
 * run), skipped (its username or email belongs to another of our users) or a conflict that stops the
 * whole import (its id belongs to another user: ids are kept, so it cannot move).
 */
export function planUserImport(rows: ImportedUser[], held: HeldUsers, replaceAdmin: boolean): UserImportPlan {
  const reply: UsersImportOutcome = { imported: [], present: [], skipped: [], conflicts: [], mapped: [] };
  const inserts: ImportedUser[] = [];
  reply.conflicts.push(...duplicatesWithin(rows));

  const ourAdmin = held.users.find((u) => u.username === ADMIN_USERNAME && !held.importedIds.has(u.id));
  const withoutOurAdmin = held.users.filter((u) => u !== ourAdmin);
  const oldAdmin = rows.find((r) => r.username === ADMIN_USERNAME && !held.importedIds.has(r.id));
  // The old admin replaces ours only when asked and when nothing else stands in its way; ours is
  // then deleted, which frees its id, username and email for every row.
  const adminObstacle = oldAdmin && obstacleTo(oldAdmin, withoutOurAdmin);
  const replacing = replaceAdmin && ourAdmin !== undefined && oldAdmin !== undefined && adminObstacle === undefined;
  const candidates = replacing ? withoutOurAdmin : held.users;
  const adminHint =
    oldAdmin && !replaceAdmin
      ? ' (--replace-admin replaces our admin by the old one and frees its id)'
      : oldAdmin
        ? ''
        : ' (the old service has no admin to replace ours with)';

  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    if (held.importedIds.has(row.id)) {
      reply.present.push(row.id);
      continue;
    }
    let obstacle = obstacleTo(row, candidates, adminHint);
    if (row === oldAdmin && ourAdmin && !replacing) {
      // Ours stays; the old admin's machines and history become ours.
      obstacle = !replaceAdmin ? { skip: 'admin_kept' } : adminObstacle;
      if (obstacle && 'skip' in obstacle) reply.mapped.push({ id: row.id, to: ourAdmin.id });
    }
    if (obstacle && 'conflict' in obstacle) reply.conflicts.push(obstacle.conflict);
    else if (obstacle) reply.skipped.push({ id: row.id, reason: obstacle.skip });
    else {
      reply.imported.push(row.id);
      inserts.push(row);
    }
  }
  return { reply, inserts, replacedAdminId: replacing ? ourAdmin?.id : undefined };
}

/** The users table's side of an import: reads and writes inside one transaction. */
export interface UserImportTransaction {
  held(rows: ImportedUser[]): Promise<HeldUsers>;
  deleteUser(id: number): Promise<void>;
  insertUsers(rows: ImportedUser[], runId: string): Promise<void>;
  /** New sign-ups get ids after the highest one. */
  continueIds(): Promise<void>;
  recordImported(runId: string, ids: number[]): void;
}

export interface UserImportStore {
  /** One transaction, serialized with other imports; rolled back when `work` throws. */
  transaction<T>(work: (tx: UserImportTransaction) => Promise<T>): Promise<T>;
}

/** Checks (`apply: false`) or writes (`apply: true`) the users part, all or nothing. */
export async function importUsers(
  store: UserImportStore,
  input: { runId: string; users: ImportedUser[]; replaceAdmin: boolean; apply: boolean },
): Promise<UsersImportOutcome> {
  return store.transaction(async (tx) => {
    const plan = planUserImport(input.users, await tx.held(input.users), input.replaceAdmin);
    if (!input.apply || plan.reply.conflicts.length > 0 || plan.inserts.length === 0) return plan.reply;
    if (plan.replacedAdminId !== undefined) await tx.deleteUser(plan.replacedAdminId);
    await tx.insertUsers(plan.inserts, input.runId);
    await tx.continueIds();
    tx.recordImported(input.runId, plan.reply.imported);
    return plan.reply;
  });
}

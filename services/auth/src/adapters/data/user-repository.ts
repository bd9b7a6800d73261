import type { EntityManager } from '@imm/db';
import { User } from './entities';

/** The unique constraints of `users`, by the field a duplicate is reported on. */
export const USER_UNIQUE_CONSTRAINTS = { username: 'users_username_key', email: 'users_email_key' } as const;

export interface NewUser {
  username: string;
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  isStaff: boolean;
  isSuperuser: boolean;
  lastLogin: Date | null;
  dateJoined: Date;
}

export function userRepository(em: EntityManager) {
  return {
    findById: (id: number) => em.findOne(User, { id }),

    /** Usernames are case-sensitive, as in Django. */
    findByUsername: (username: string) => em.findOne(User, { username }),

    async usernameTaken(username: string): Promise<boolean> {
      return (await em.count(User, { username })) > 0;
    },

    /** Emails are unique regardless of case (the `users_email_key` index is on lower(email)). */
    async emailTaken(email: string): Promise<boolean> {
      const count = await em.createQueryBuilder(User).where('lower(email) = ?', [email.toLowerCase()]).getCount();
      return count > 0;
    },

    /** Adds the user to the unit of work; the id is known after the next flush. */
    add(user: NewUser): User {
      const entity = em.create(User, { ...user, isActive: true });
      em.persist(entity);
      return entity;
    },

    /** A successful sign-in: the time, and the bcrypt hash that replaces an imported one. */
    async recordSignIn(id: number, at: Date, passwordHash?: string): Promise<void> {
      await em.nativeUpdate(User, { id }, passwordHash ? { lastLogin: at, password: passwordHash } : { lastLogin: at });
    },

    setPassword: (id: number, passwordHash: string) => em.nativeUpdate(User, { id }, { password: passwordHash }),

    /** True when this call deactivated the user (false: no such user, or inactive already). */
    async deactivate(id: number): Promise<boolean> {
      return (await em.nativeUpdate(User, { id, isActive: true }, { isActive: false })) === 1;
    },

    /**
     * Inserts unless a user with that username or email exists, in one statement, so processes
     * starting together agree. Returns the new id, or undefined when nothing was inserted.
     */
    async insertIfAbsent(user: NewUser): Promise<number | undefined> {
      const result = await em
        .createQueryBuilder(User)
        .insert({ ...user, isActive: true })
        .onConflict()
        .ignore()
        .execute('run');
      return result.affectedRows > 0 ? Number(result.insertId) : undefined;
    },
  };
}

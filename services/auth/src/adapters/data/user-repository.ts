import type { EntityManager } from '@imm/db';
import type { NewUser, User, Users } from '../../domain/users';
import { User as UserEntity } from './entities';

/** The unique constraints of `users`, by the field a duplicate is reported on. */
export const USER_UNIQUE_CONSTRAINTS = { username: 'users_username_key', email: 'users_email_key' } as const;

/** The row as the domain's plain user, so nothing outside this file holds a managed entity. */
function plain(row: UserEntity): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    password: row.password,
    firstName: row.firstName,
    lastName: row.lastName,
    isStaff: row.isStaff,
    isActive: row.isActive,
    isSuperuser: row.isSuperuser,
    lastLogin: row.lastLogin ?? null,
    dateJoined: row.dateJoined,
  };
}

const plainOrNull = (row: UserEntity | null) => (row ? plain(row) : null);

export function userRepository(em: EntityManager): Users {
  return {
    findById: async (id) => plainOrNull(await em.findOne(UserEntity, { id })),

    findByUsername: async (username) => plainOrNull(await em.findOne(UserEntity, { username })),

    async usernameTaken(username) {
      return (await em.count(UserEntity, { username })) > 0;
    },

    /** The `users_email_key` index is on lower(email). */
    async emailTaken(email) {
      const count = await em.createQueryBuilder(UserEntity).where('lower(email) = ?', [email.toLowerCase()]).getCount();
      return count > 0;
    },

    async add(user) {
      const entity = em.create(UserEntity, { ...user, isActive: true });
      em.persist(entity);
      await em.flush(); // the id
      return plain(entity);
    },

    async recordSignIn(id, at, passwordHash) {
      await em.nativeUpdate(
        UserEntity,
        { id },
        passwordHash ? { lastLogin: at, password: passwordHash } : { lastLogin: at },
      );
    },

    async setPassword(id, passwordHash) {
      await em.nativeUpdate(UserEntity, { id }, { password: passwordHash });
    },

    async deactivate(id) {
      return (await em.nativeUpdate(UserEntity, { id, isActive: true }, { isActive: false })) === 1;
    },

    async insertIfAbsent(user: NewUser) {
      const result = await em
        .createQueryBuilder(UserEntity)
        .insert({ ...user, isActive: true })
        .onConflict()
        .ignore()
        .execute('run');
      return result.affectedRows > 0 ? Number(result.insertId) : undefined;
    },
  };
}

import { type Database, isUniqueViolation } from '@imm/db';
import type { AccountStore } from '../../domain/account-store';
import { UserTaken } from '../../domain/users';
import { accountEvents } from '../events/user-registered';
import { refreshTokenRepository } from './refresh-token-repository';
import { USER_UNIQUE_CONSTRAINTS, userRepository } from './user-repository';

/** A unique violation of `users`, as the field it is about. */
function takenOf(error: unknown): UserTaken | undefined {
  for (const [field, constraint] of Object.entries(USER_UNIQUE_CONSTRAINTS)) {
    if (isUniqueViolation(error, constraint)) return new UserTaken(field as keyof typeof USER_UNIQUE_CONSTRAINTS);
  }
  return undefined;
}

/** Users and refresh tokens in Postgres, through MikroORM. */
export function accountStore(orm: Database): AccountStore {
  return {
    // A fresh fork for each use: a long-lived one would keep every row it ever read.
    get users() {
      return userRepository(orm.em.fork());
    },
    get refreshTokens() {
      return refreshTokenRepository(orm.em.fork());
    },
    async transaction(work) {
      try {
        return await orm.em
          .fork()
          .transactional((em) =>
            work({ users: userRepository(em), refreshTokens: refreshTokenRepository(em), events: accountEvents(em) }),
          );
      } catch (error) {
        throw takenOf(error) ?? error;
      }
    },
  };
}

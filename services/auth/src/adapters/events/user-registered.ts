import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';
import type { AccountEvents } from '../../domain/account-store';
import type { User } from '../../domain/users';

/**
 * `auth.user.registered`, recorded in the outbox inside the transaction that created the user (the
 * user needs its id, so after a flush); the outbox relay publishes it once that commits.
 */
export function recordUserRegistered(em: EntityManager, user: User): void {
  recordEvent(em, 'auth.user.registered', {
    user_id: user.id,
    username: user.username,
    email: user.email,
    is_superuser: user.isSuperuser,
  });
}

/** The events of accounts, recorded in the transaction of `em`. */
export function accountEvents(em: EntityManager): AccountEvents {
  return { userRegistered: (user) => recordUserRegistered(em, user) };
}

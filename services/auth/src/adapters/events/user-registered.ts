import { recordEvent } from '@imm/bus';
import type { EntityManager } from '@imm/db';
import type { User } from '../data/entities';

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

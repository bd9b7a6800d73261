import type { EntityManager } from '@imm/db';
import { RefreshToken } from './entities';

export function refreshTokenRepository(em: EntityManager) {
  return {
    add(token: { jti: string; familyId: string; userId: number; expiresAt: Date }): RefreshToken {
      const entity = em.create(RefreshToken, { ...token, createdAt: new Date(), revokedAt: null, replacedBy: null });
      em.persist(entity);
      return entity;
    },

    findByJti: (jti: string) => em.findOne(RefreshToken, { jti }),

    /**
     * Marks a live token as replaced by its successor. One statement with the conditions in it, so
     * of two concurrent rotations of the same token exactly one succeeds (the other waits on the
     * row lock, then matches nothing). True when this call did it.
     */
    async replace(jti: string, successor: string): Promise<boolean> {
      const affected = await em.nativeUpdate(
        RefreshToken,
        { jti, replacedBy: null, revokedAt: null, expiresAt: { $gt: new Date() } },
        { replacedBy: successor },
      );
      return affected === 1;
    },

    /** Revokes every live token of a family (one sign-in and all its rotations). */
    revokeFamily: (familyId: string) =>
      em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() }),

    /** Revokes every live token of the user (all families). */
    revokeUser: (userId: number) =>
      em.nativeUpdate(RefreshToken, { userId, revokedAt: null }, { revokedAt: new Date() }),

    /** Expired rows serve no check any more: an expired token is refused by its `exp` alone. */
    deleteExpired: (before: Date) => em.nativeDelete(RefreshToken, { expiresAt: { $lt: before } }),
  };
}

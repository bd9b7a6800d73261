import type { EntityManager } from '@imm/db';
import type { RefreshTokens, StoredRefreshToken } from '../../domain/refresh-tokens';
import { RefreshToken } from './entities';

const plain = (row: RefreshToken): StoredRefreshToken => ({
  jti: row.jti,
  familyId: row.familyId,
  userId: row.userId,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt ?? null,
  replacedBy: row.replacedBy ?? null,
});

export function refreshTokenRepository(em: EntityManager): RefreshTokens {
  return {
    async add(token) {
      em.persist(em.create(RefreshToken, { ...token, createdAt: new Date(), revokedAt: null, replacedBy: null }));
      await em.flush();
    },

    async findByJti(jti) {
      const row = await em.findOne(RefreshToken, { jti });
      return row ? plain(row) : null;
    },

    /**
     * One statement with the conditions in it, so of two concurrent rotations of the same token
     * exactly one succeeds (the other waits on the row lock, then matches nothing).
     */
    async replace(jti, successor) {
      const affected = await em.nativeUpdate(
        RefreshToken,
        { jti, replacedBy: null, revokedAt: null, expiresAt: { $gt: new Date() } },
        { replacedBy: successor },
      );
      return affected === 1;
    },

    async revokeFamily(familyId) {
      await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
    },

    async revokeUser(userId) {
      await em.nativeUpdate(RefreshToken, { userId, revokedAt: null }, { revokedAt: new Date() });
    },

    /** Expired rows serve no check any more: an expired token is refused by its `exp` alone. */
    deleteExpired: (before) => em.nativeDelete(RefreshToken, { expiresAt: { $lt: before } }),
  };
}

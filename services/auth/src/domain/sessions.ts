import { randomUUID } from 'node:crypto';
import type { Principal } from '@imm/auth';
import type { Database, EntityManager } from '@imm/db';
import type { Logger } from '@imm/logging';
import { UnauthenticatedError, ValidationError } from '@imm/errors';
import type { User } from '../adapters/data/entities';
import { refreshTokenRepository } from '../adapters/data/refresh-token-repository';
import { userRepository } from '../adapters/data/user-repository';
import type { NotBeforeMarks } from '../adapters/data/not-before-marks';
import type { TokenService, TokenSubject } from '../adapters/jwt-tokens';

export interface TokenPair {
  access: string;
  refresh: string;
}

export interface Sessions {
  /** A new family: the tokens of a sign-in (or sign-up), stored in the caller's transaction. */
  start(em: EntityManager, user: User): TokenPair;
  /** Exchanges a refresh token for a new pair; a token used before revokes its whole family. */
  rotate(refreshToken: string): Promise<TokenPair>;
  /** Sign-out: revokes the family of the caller's refresh token. */
  end(caller: Principal, refreshToken: string): Promise<void>;
  /** Password change, deactivation: every session of the user ends and its access tokens are outdated. */
  endAll(userId: number): Promise<void>;
  /** Deletes rows of tokens expired before `before`. */
  purgeExpired(before: Date): Promise<number>;
}

const subjectOf = (user: User): TokenSubject => ({
  id: user.id,
  username: user.username,
  isStaff: user.isStaff,
  isSuperuser: user.isSuperuser,
});

/** Why a rotation was refused; decided inside the transaction, acted on after it rolled back. */
class RotationRefused extends Error {
  constructor(
    readonly reason: 'unknown' | 'reused' | 'revoked' | 'expired' | 'user_gone' | 'user_inactive',
    readonly familyId?: string,
  ) {
    super(reason);
  }
}

export function createSessions(deps: {
  orm: Database;
  tokens: TokenService;
  marks: NotBeforeMarks;
  logger: Logger;
}): Sessions {
  const { orm, tokens, marks, logger } = deps;

  function issue(em: EntityManager, user: User, familyId: string): { pair: TokenPair; jti: string } {
    const refresh = tokens.issueRefresh(user.id);
    refreshTokenRepository(em).add({ jti: refresh.jti, familyId, userId: user.id, expiresAt: refresh.expiresAt });
    return {
      pair: { access: tokens.issueAccess(subjectOf(user), familyId), refresh: refresh.token },
      jti: refresh.jti,
    };
  }

  /** A reused or refused family: its refresh tokens and, as far as Redis takes it, its access tokens. */
  async function revokeFamily(familyId: string): Promise<void> {
    await marks.endSession(familyId).catch((error) => {
      logger.warn({ err: error, familyId }, "session's access tokens not outdated: redis unavailable");
    });
    await refreshTokenRepository(orm.em.fork()).revokeFamily(familyId);
  }

  return {
    start: (em, user) => issue(em, user, randomUUID()).pair,

    async rotate(refreshToken) {
      const claims = tokens.readRefresh(refreshToken);
      try {
        return await orm.em.fork().transactional(async (em) => {
          const refreshTokens = refreshTokenRepository(em);
          const stored = await refreshTokens.findByJti(claims.jti);
          if (!stored || stored.userId !== claims.user_id) throw new RotationRefused('unknown');
          if (stored.replacedBy !== null) throw new RotationRefused('reused', stored.familyId);
          if (stored.revokedAt !== null) throw new RotationRefused('revoked');
          const user = await userRepository(em).findById(stored.userId);
          if (!user) throw new RotationRefused('user_gone');
          if (!user.isActive) throw new RotationRefused('user_inactive', stored.familyId);
          const next = issue(em, user, stored.familyId);
          await em.flush(); // the successor row first: `replace` points at it
          // Lost a race with a concurrent rotation (or expired this instant): treat as reuse.
          if (!(await refreshTokens.replace(stored.jti, next.jti))) {
            throw new RotationRefused('reused', stored.familyId);
          }
          return next.pair;
        });
      } catch (error) {
        if (!(error instanceof RotationRefused)) throw error;
        if (error.familyId) await revokeFamily(error.familyId);
        if (error.reason === 'reused') {
          logger.warn({ userId: claims.user_id, familyId: error.familyId }, 'refresh token reused, family revoked');
        }
        switch (error.reason) {
          case 'reused':
          case 'revoked':
            throw new UnauthenticatedError('token_revoked');
          case 'user_gone':
            throw new UnauthenticatedError('user_not_found');
          case 'user_inactive':
            throw new UnauthenticatedError('user_inactive');
          default:
            throw new UnauthenticatedError('token_invalid');
        }
      }
    },

    async end(caller, refreshToken) {
      let claims: ReturnType<TokenService['readRefresh']>;
      try {
        // Signing out with an expired refresh token is harmless: it ends nothing but still succeeds.
        claims = tokens.readRefresh(refreshToken, { allowExpired: true });
      } catch {
        throw ValidationError.field('refresh', 'token_invalid');
      }
      // Someone else's token is reported exactly like a forged one.
      if (claims.user_id !== caller.id) throw ValidationError.field('refresh', 'token_invalid');
      const em = orm.em.fork();
      const stored = await refreshTokenRepository(em).findByJti(claims.jti);
      if (!stored) return; // expired and purged already
      // The mark first: if Redis refuses it (503), nothing was changed and a retry does it all.
      await marks.endSession(stored.familyId);
      await refreshTokenRepository(em).revokeFamily(stored.familyId);
    },

    async endAll(userId) {
      await marks.outdateUser(userId);
      await refreshTokenRepository(orm.em.fork()).revokeUser(userId);
    },

    purgeExpired: (before) => refreshTokenRepository(orm.em.fork()).deleteExpired(before),
  };
}

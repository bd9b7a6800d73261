import { randomUUID } from 'node:crypto';
import type { Principal } from '@imm/auth';
import { UnauthenticatedError, ValidationError } from '@imm/errors';
import type { AccountStore } from './account-store';
import type { Log } from './log';
import type { RefreshTokens } from './refresh-tokens';
import type { NotBeforeMarks, RefreshClaims, TokenIssuer, TokenSubject } from './tokens';
import type { User } from './users';

export interface TokenPair {
  access: string;
  refresh: string;
}

export interface Sessions {
  /** A new family: the tokens of a sign-in (or sign-up), stored in the caller's transaction. */
  start(tx: { refreshTokens: RefreshTokens }, user: User): Promise<TokenPair>;
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

export interface SessionsDeps {
  store: AccountStore;
  tokens: TokenIssuer;
  marks: NotBeforeMarks;
  logger: Log;
}

export function createSessions(deps: SessionsDeps): Sessions {
  const { store, tokens, marks, logger } = deps;

  /** Issues a pair and stores its refresh token (in `refreshTokens`' transaction). */
  async function issue(
    refreshTokens: RefreshTokens,
    user: User,
    familyId: string,
  ): Promise<{ pair: TokenPair; jti: string }> {
    const refresh = tokens.issueRefresh(user.id);
    await refreshTokens.add({ jti: refresh.jti, familyId, userId: user.id, expiresAt: refresh.expiresAt });
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
    await store.refreshTokens.revokeFamily(familyId);
  }

  return {
    start: async (tx, user) => (await issue(tx.refreshTokens, user, randomUUID())).pair,

    async rotate(refreshToken) {
      const claims = tokens.readRefresh(refreshToken);
      try {
        return await store.transaction(async ({ users, refreshTokens }) => {
          const stored = await refreshTokens.findByJti(claims.jti);
          if (!stored || stored.userId !== claims.user_id) throw new RotationRefused('unknown');
          if (stored.replacedBy !== null) throw new RotationRefused('reused', stored.familyId);
          if (stored.revokedAt !== null) throw new RotationRefused('revoked');
          const user = await users.findById(stored.userId);
          if (!user) throw new RotationRefused('user_gone');
          if (!user.isActive) throw new RotationRefused('user_inactive', stored.familyId);
          // The successor row first: `replace` points at it.
          const next = await issue(refreshTokens, user, stored.familyId);
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
      let claims: RefreshClaims;
      try {
        // Signing out with an expired refresh token is harmless: it ends nothing but still succeeds.
        claims = tokens.readRefresh(refreshToken, { allowExpired: true });
      } catch {
        throw ValidationError.field('refresh', 'token_invalid');
      }
      // Someone else's token is reported exactly like a forged one.
      if (claims.user_id !== caller.id) throw ValidationError.field('refresh', 'token_invalid');
      const stored = await store.refreshTokens.findByJti(claims.jti);
      if (!stored) return; // expired and purged already
      // The mark first: if Redis refuses it (503), nothing was changed and a retry does it all.
      await marks.endSession(stored.familyId);
      await store.refreshTokens.revokeFamily(stored.familyId);
    },

    async endAll(userId) {
      await marks.outdateUser(userId);
      await store.refreshTokens.revokeUser(userId);
    },

    purgeExpired: (before) => store.refreshTokens.deleteExpired(before),
  };
}

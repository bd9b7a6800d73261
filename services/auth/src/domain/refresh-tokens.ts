/**
 * One issued refresh token. Rotation links a token to its successor (`replacedBy`); all tokens
 * descending from one sign-in share a `familyId`, so a reused token revokes them all.
 */
export interface StoredRefreshToken {
  jti: string;
  familyId: string;
  userId: number;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  replacedBy: string | null;
}

/** Where issued refresh tokens are kept. */
export interface RefreshTokens {
  add(token: { jti: string; familyId: string; userId: number; expiresAt: Date }): Promise<void>;
  findByJti(jti: string): Promise<StoredRefreshToken | null>;
  /**
   * Marks a live token as replaced by its (stored) successor, atomically: of two concurrent
   * rotations of the same token exactly one succeeds. True when this call did it.
   */
  replace(jti: string, successor: string): Promise<boolean>;
  /** Revokes every live token of a family (one sign-in and all its rotations). */
  revokeFamily(familyId: string): Promise<void>;
  /** Revokes every live token of the user (all families). */
  revokeUser(userId: number): Promise<void>;
  /** Deletes tokens expired before `before`; how many. */
  deleteExpired(before: Date): Promise<number>;
}

import type { TokenClaims } from '@imm/auth';

/** What an access token says about its user. */
export interface TokenSubject {
  id: number;
  username: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

export interface RefreshClaims extends TokenClaims {
  token_type: 'refresh';
}

export interface IssuedRefresh {
  token: string;
  jti: string;
  expiresAt: Date;
}

/** Issues access and refresh tokens and reads refresh tokens back. */
export interface TokenIssuer {
  /** `sessionId`: the refresh-token family, so a sign-out can outdate the session's access tokens. */
  issueAccess(user: TokenSubject, sessionId?: string): string;
  issueRefresh(userId: number): IssuedRefresh;
  /** Checks signature, algorithm and type; `allowExpired` for sign-out, where an expired token is harmless. */
  readRefresh(token: string, options?: { allowExpired?: boolean }): RefreshClaims;
}

/** Writes the "not before" marks every token verifier reads. */
export interface NotBeforeMarks {
  /** Outdates every access token of one session (sign-out, a reused refresh token). */
  endSession(sessionId: string): Promise<void>;
  /**
   * Outdates every access token of the user issued up to now (password change, deactivation).
   * Resolves once the current second is over, so tokens issued after it are not caught too.
   */
  outdateUser(userId: number): Promise<void>;
}

/**
 * Token claims as the Django service (simplejwt) issued them, plus the user's name and roles so
 * services can authorize without asking the auth service on every request.
 */
export const TOKEN_ALGORITHM = 'ES256' as const;

export interface TokenClaims {
  token_type: 'access' | 'refresh';
  exp: number;
  iat: number;
  jti: string;
  user_id: number;
}

export interface AccessClaims extends TokenClaims {
  token_type: 'access';
  username: string;
  is_staff: boolean;
  is_superuser: boolean;
  /** The session (the refresh-token family of one sign-in), so a sign-out can outdate its tokens. */
  sid?: string;
}

/** Who is calling, as services see it. */
export interface Principal {
  id: number;
  username: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

declare global {
  namespace Express {
    interface Request {
      user?: Principal;
    }
  }
}

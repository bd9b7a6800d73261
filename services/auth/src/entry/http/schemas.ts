import { z } from 'zod';
import type { User } from '../../domain/users';
import {
  normalizeEmail,
  normalizeUsername,
  passwordProblems,
  USERNAME_MAX_LENGTH,
  USERNAME_PATTERN,
} from '../../domain/password-policy';

/** Strings whose whitespace-only value counts as blank, as DRF's CharField trims. */
const name = (max: number) => z.string().trim().min(1, 'blank').max(max);

export const signUpBody = z
  .object({
    username: z
      .string()
      .min(1)
      .transform(normalizeUsername)
      .pipe(z.string().max(USERNAME_MAX_LENGTH).regex(USERNAME_PATTERN, 'invalid_username')),
    email: z.string().min(1).max(254).pipe(z.email()).transform(normalizeEmail),
    password: z.string().min(1).meta({
      minLength: 8,
      description: '8 to 72 bytes (UTF-8), at least 8 characters, not entirely numeric, not the username',
    }),
    first_name: name(150),
    last_name: name(150),
  })
  .superRefine(
    (body, ctx) => {
      if (body.password === '') return; // reported as blank already
      const username = typeof body.username === 'string' ? body.username : undefined;
      for (const problem of passwordProblems(body.password, username)) {
        ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
      }
    },
    // Runs even when other fields failed, so one response lists every problem.
    { when: (payload) => typeof (payload.value as { password?: unknown })?.password === 'string' },
  )
  .meta({
    id: 'SignUp',
    description: 'is_staff, is_superuser and is_active are ignored: sign-up makes ordinary, active users.',
  });
export type SignUpBody = z.infer<typeof signUpBody>;

export const signInBody = z
  .object({
    // Stored usernames are NFKC (sign-up and Django both normalize), so the typed one is too.
    username: z.string().min(1).transform(normalizeUsername),
    password: z.string().min(1),
  })
  .meta({ id: 'SignIn' });

export const refreshBody = z
  .object({
    refresh: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'The refresh token; when left out, the `refresh` cookie set at sign-in is used.' }),
  })
  .meta({ id: 'RefreshToken' });

export const passwordChangeBody = z
  .object({
    old_password: z.string().min(1),
    new_password: z.string().min(1).meta({
      minLength: 8,
      description: '8 to 72 bytes (UTF-8), at least 8 characters, not entirely numeric, not the username',
    }),
  })
  .meta({ id: 'PasswordChange' });

export const userIdParams = z.object({ id: z.string().meta({ description: 'User id (a positive integer)' }) });

export const userSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    email: z.string(),
    first_name: z.string(),
    last_name: z.string(),
    is_staff: z.boolean(),
    is_active: z.boolean(),
    is_superuser: z.boolean(),
    last_login: z.iso.datetime().nullable(),
    date_joined: z.iso.datetime(),
  })
  .meta({ id: 'User' });
export type UserJson = z.infer<typeof userSchema>;

export const tokenPairSchema = z
  .object({
    access: z.string().meta({ description: `Access token (ES256 JWT)` }),
    refresh: z.string().meta({ description: 'Refresh token (ES256 JWT); each use replaces it' }),
  })
  .meta({ id: 'TokenPair' });

export const signedInSchema = z.object({ user: userSchema, token: tokenPairSchema }).meta({ id: 'SignedIn' });
export const meSchema = z.object({ user: userSchema }).meta({ id: 'Me' });
export const emptySchema = z.object({}).meta({ id: 'Empty' });

export const jwksSchema = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('EC'),
        crv: z.literal('P-256'),
        x: z.string(),
        y: z.string(),
        kid: z.string().meta({ description: 'RFC 7638 thumbprint of the key' }),
        alg: z.literal('ES256'),
        use: z.literal('sig'),
      }),
    ),
  })
  .meta({ id: 'Jwks' });

export function userJson(user: User): UserJson {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    first_name: user.firstName,
    last_name: user.lastName,
    is_staff: user.isStaff,
    is_active: user.isActive,
    is_superuser: user.isSuperuser,
    last_login: user.lastLogin ? user.lastLogin.toISOString() : null,
    date_joined: user.dateJoined.toISOString(),
  };
}

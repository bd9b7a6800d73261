import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ConfigError, env, infrastructureShape, loadConfig } from '@imm/config';
import { z } from 'zod';
import { ADMIN_USERNAME } from './domain/accounts';
import { passwordProblems } from './domain/password-policy';
import { isP256PrivateKey, isP256PublicKey } from './adapters/signing-keys';

/** A PEM may come with literal `\n` escapes, as one-line environment files carry it. */
const unescapePem = (text: string) => text.replace(/\\n/g, '\n').trim();

const PEM_BLOCK = /-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g;

const privateKeyPem = env.optionalString().transform((value, ctx): KeyObject | undefined => {
  if (value === undefined) return undefined;
  try {
    const key = createPrivateKey(unescapePem(value));
    if (isP256PrivateKey(key)) return key;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'must be a PEM private key on the P-256 curve (EC prime256v1)' });
  return z.NEVER;
});

const publicKeyPems = env.optionalString().transform((value, ctx): KeyObject[] => {
  if (value === undefined) return [];
  const blocks = unescapePem(value).match(PEM_BLOCK) ?? [];
  const keys: KeyObject[] = [];
  for (const block of blocks) {
    try {
      const key = createPublicKey(block);
      if (isP256PublicKey(key)) {
        keys.push(key);
        continue;
      }
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'every key must be a PEM public key on the P-256 curve' });
    return z.NEVER;
  }
  if (blocks.length === 0) ctx.addIssue({ code: 'custom', message: 'expected one or more PEM public keys' });
  return keys;
});

const DEV_ADMIN_PASSWORD = '1qaz2wsx';

export const authShape = {
  ...infrastructureShape,
  PORT: env.port(8001),
  /** Seconds an access token is valid. */
  ACCESS_TOKEN_LIFETIME: env.int(1800, 1),
  /** Seconds a refresh token is valid; each rotation issues a new one with the full lifetime. */
  REFRESH_TOKEN_LIFETIME: env.int(86400, 1),
  /** bcrypt cost; a stored hash of lower cost is upgraded at the user's next sign-in. */
  BCRYPT_ROUNDS: env.int(12, 10, 16),
  /** PEM, EC P-256. Required in RELEASE; in DEV a key is generated once and kept in the database. */
  JWT_PRIVATE_KEY: privateKeyPem,
  /** PEM public keys of earlier private keys, so their tokens stay valid during a rotation. */
  JWT_PREVIOUS_PUBLIC_KEYS: publicKeyPems,
  ADMIN_PASSWORD: z
    .string()
    .default(DEV_ADMIN_PASSWORD)
    .superRefine((password, ctx) => {
      for (const problem of passwordProblems(password, ADMIN_USERNAME)) {
        ctx.addIssue({ code: 'custom', message: `breaks the password policy (${problem})` });
      }
    }),
  ADMIN_EMAIL: z
    .string()
    .max(254)
    .regex(/^[^@\s]+@[^@\s]+$/, 'must be an email address')
    .default('admin@localhost'),
  /** Failed sign-ins of one username from one client address within the window before 429. */
  SIGNIN_MAX_FAILURES_PER_PAIR: env.int(5, 1),
  /** Failed sign-ins from one client address (any usernames) within the window before 429. */
  SIGNIN_MAX_FAILURES_PER_IP: env.int(100, 1),
  /** Failed sign-ins of one username (any addresses) within the window before its attempts slow down. */
  SIGNIN_USERNAME_DELAY_AFTER: env.int(20, 0),
  /** The first slowed attempt waits this long (ms); each further failure doubles it. */
  SIGNIN_USERNAME_DELAY_BASE_MS: env.int(250, 0),
  /** The longest a slowed attempt waits (ms). Never a refusal: the right password still gets in. */
  SIGNIN_USERNAME_DELAY_MAX_MS: env.int(5000, 0),
  /** Seconds over which failed sign-ins are counted. */
  SIGNIN_FAILURE_WINDOW: env.int(900, 1),
  /** Sign-ups per client address within SIGNUP_WINDOW before 429. */
  SIGNUP_MAX_PER_IP: env.int(50, 1),
  /** Seconds over which sign-ups are counted. */
  SIGNUP_WINDOW: env.int(3600, 1),
  /**
   * The longest a sign-in or sign-up waits on Redis for its throttle before counting in memory.
   * Longer than REDIS_TIMEOUT_MS: a sign-in costs a bcrypt hash anyway, and a count that falls
   * back to memory under load would let parallel guesses past the shared count.
   */
  THROTTLE_REDIS_TIMEOUT_MS: env.int(1000, 10, 10_000),
  /** Password hashes and checks run at once. */
  PASSWORD_WORK_CONCURRENCY: env.int(4, 1),
  /** Password hashes and checks waiting beyond those; one more gets 503 at once. */
  PASSWORD_WORK_QUEUE: env.int(32, 0),
  /**
   * Nice value of the hashing threads (0–19): above 0 they yield the CPU to request handling, so
   * sign-ins at full load slow sign-ins, not everybody's reads.
   */
  PASSWORD_WORK_NICE: env.int(10, 0, 19),
};

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export function loadAuthConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(authShape, { env: source, requiredInRelease: ['JWT_PRIVATE_KEY', 'ADMIN_PASSWORD'] });
  if (config.MODE === 'RELEASE' && config.ADMIN_PASSWORD === DEV_ADMIN_PASSWORD) {
    throw new ConfigError(['ADMIN_PASSWORD: the DEV default is not allowed when MODE=RELEASE']);
  }
  return config;
}

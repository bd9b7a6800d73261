import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcrypt';
import { PASSWORD_MAX_BYTES } from '../domain/password-policy';
import type { PasswordCheck, PasswordHasher } from '../domain/passwords';
import type { PasswordWork } from './password-work';

const pbkdf2Async = promisify(pbkdf2);

/** Where the hashing runs: libuv's thread pool by default, or threads of lower priority (main.ts). */
export interface HashPrimitives {
  bcryptHash(password: string, rounds: number): Promise<string>;
  bcryptCompare(password: string, encoded: string): Promise<boolean>;
  pbkdf2(password: string, salt: string, iterations: number, length: number, digest: string): Promise<Buffer>;
}

const threadPool: HashPrimitives = {
  bcryptHash: (password, rounds) => bcrypt.hash(password, rounds),
  bcryptCompare: (password, encoded) => bcrypt.compare(password, encoded),
  pbkdf2: (password, salt, iterations, length, digest) => pbkdf2Async(password, salt, iterations, length, digest),
};

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const fits = (password: string) => Buffer.byteLength(password, 'utf8') <= PASSWORD_MAX_BYTES;

/**
 * Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (and the older `pbkdf2_sha1`), as users
 * imported from the Django service keep them.
 */
async function verifyDjangoPbkdf2(password: string, encoded: string, hashing: HashPrimitives): Promise<boolean> {
  const [algorithm, iterationsText, salt, expectedBase64] = encoded.split('$');
  const digest = algorithm === 'pbkdf2_sha256' ? 'sha256' : algorithm === 'pbkdf2_sha1' ? 'sha1' : undefined;
  const iterations = Number(iterationsText);
  if (!digest || salt === undefined || !expectedBase64) return false;
  // The stored count drives the work; a corrupt row must not stall the process.
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
  const expected = Buffer.from(expectedBase64, 'base64');
  if (expected.length === 0) return false;
  const actual = await hashing.pbkdf2(password, salt, iterations, expected.length, digest);
  return timingSafeEqual(actual, expected);
}

/** Django's BCryptSHA256PasswordHasher: `bcrypt_sha256$<bcrypt of hex sha256(password)>`. */
async function verifyDjangoBcryptSha256(password: string, encoded: string, hashing: HashPrimitives): Promise<boolean> {
  const inner = encoded.slice('bcrypt_sha256$'.length);
  if (!BCRYPT.test(inner)) return false;
  return hashing.bcryptCompare(createHash('sha256').update(password, 'utf8').digest('hex'), inner);
}

/** Every hash and check goes through `work`, so a burst is refused quickly instead of queued without end. */
export function createPasswordHasher(
  rounds: number,
  work?: PasswordWork,
  hashing: HashPrimitives = threadPool,
): PasswordHasher {
  const bounded = work ?? { run: <T>(task: () => Promise<T>) => task() };
  let dummy: Promise<string> | undefined;
  const dummyHash = () => {
    dummy ??= hashing.bcryptHash(randomBytes(16).toString('hex'), rounds);
    return dummy;
  };

  return {
    hash: (password) => bounded.run(() => hashing.bcryptHash(password, rounds)),

    verify: (password, encoded) => bounded.run(() => verify(password, encoded)),

    verifyNothing: (password) =>
      bounded.run(async () => void (await hashing.bcryptCompare(password, await dummyHash()))),
  };

  async function verify(password: string, encoded: string): Promise<PasswordCheck> {
    if (BCRYPT.test(encoded)) {
      // bcrypt ignores bytes past 72: a longer candidate would match any password it starts with.
      const ok = (await hashing.bcryptCompare(password, encoded)) && fits(password);
      return { ok, needsRehash: ok && bcrypt.getRounds(encoded) < rounds };
    }
    let ok = false;
    if (encoded.startsWith('pbkdf2_')) ok = await verifyDjangoPbkdf2(password, encoded, hashing);
    else if (encoded.startsWith('bcrypt_sha256$')) ok = await verifyDjangoBcryptSha256(password, encoded, hashing);
    else await hashing.bcryptCompare(password, await dummyHash()); // unusable (`!…`) or unknown formats
    // A Django password longer than bcrypt's 72 bytes keeps its old hash rather than be weakened.
    return { ok, needsRehash: ok && fits(password) };
  }
}

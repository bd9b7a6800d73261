import { createHash, pbkdf2Sync } from 'node:crypto';
import bcrypt from 'bcrypt';
import { describe, expect, it } from 'vitest';
import { passwordProblems } from '../src/domain/password-policy';
import { createPasswordHasher } from '../src/adapters/password-hasher';
import { djangoHash } from './service';

describe('password policy', () => {
  it.each([
    ['short', 'bob', ['password_too_short']],
    ['1234567', 'bob', ['password_too_short', 'password_entirely_numeric']],
    ['12345678', 'bob', ['password_entirely_numeric']],
    ['٠١٢٣٤٥٦٧٨', 'bob', ['password_entirely_numeric']], // Arabic-Indic digits are digits to Django too
    ['Operator-7', 'operator-7', ['password_same_as_username']],
    ['a'.repeat(73), 'bob', ['password_too_long']],
    ['a'.repeat(72), 'bob', []],
    ['correct horse', 'bob', []],
  ])('%j for %s → %j', (password, username, expected) => {
    expect(passwordProblems(password, username)).toEqual(expected);
  });

  it('counts the 72-byte limit in UTF-8 bytes, not characters', () => {
    const exactly72 = '가'.repeat(24); // 3 bytes each
    expect(Buffer.byteLength(exactly72)).toBe(72);
    expect(passwordProblems(exactly72, 'bob')).toEqual([]);
    expect(passwordProblems(`${exactly72}a`, 'bob')).toEqual(['password_too_long']); // 25 characters, 73 bytes
    expect(passwordProblems('😀'.repeat(18), 'bob')).toEqual([]); // 72 bytes of 4-byte characters
    expect(passwordProblems('😀'.repeat(19), 'bob')).toEqual(['password_too_long']);
  });

  it('counts the minimum in characters', () => {
    expect(passwordProblems('가나다라마바사', 'bob')).toEqual(['password_too_short']); // 7 characters, 21 bytes
    expect(passwordProblems('가나다라마바사아', 'bob')).toEqual([]);
  });
});

describe('password hashing', () => {
  const hasher = createPasswordHasher(10);

  it('verifies a Django pbkdf2_sha256 hash and asks for a bcrypt rehash', async () => {
    const encoded = djangoHash('django-era password');
    expect(await hasher.verify('django-era password', encoded)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify('wrong password', encoded)).toEqual({ ok: false, needsRehash: false });
  });

  it("verifies Django's older pbkdf2_sha1 and bcrypt_sha256 hashes too", async () => {
    const sha1 = `pbkdf2_sha1$1000$salt$${pbkdf2Sync('old one', 'salt', 1000, 20, 'sha1').toString('base64')}`;
    expect(await hasher.verify('old one', sha1)).toEqual({ ok: true, needsRehash: true });
    expect((await hasher.verify('old two', sha1)).ok).toBe(false);
    const prehashed = createHash('sha256').update('bcrypt era').digest('hex');
    const bcryptSha256 = `bcrypt_sha256$${await bcrypt.hash(prehashed, 10)}`;
    expect(await hasher.verify('bcrypt era', bcryptSha256)).toEqual({ ok: true, needsRehash: true });
    expect((await hasher.verify('bcrypt error', bcryptSha256)).ok).toBe(false);
  });

  it('keeps a Django hash of a password longer than 72 bytes rather than truncate it into bcrypt', async () => {
    const long = 'x'.repeat(80);
    expect(await hasher.verify(long, djangoHash(long, 1000))).toEqual({ ok: true, needsRehash: false });
  });

  it('hashes with bcrypt ($2b$) at the configured cost, and refuses candidates bcrypt would truncate', async () => {
    const password = 'p'.repeat(72);
    const encoded = await hasher.hash(password);
    expect(encoded).toMatch(/^\$2b\$10\$/);
    expect(await hasher.verify(password, encoded)).toEqual({ ok: true, needsRehash: false });
    expect((await hasher.verify(`${password}extra`, encoded)).ok).toBe(false);
    expect(await bcrypt.compare(`${password}extra`, encoded)).toBe(true); // what the check above prevents
  });

  it('asks to rehash a bcrypt hash of lower cost than configured', async () => {
    const stronger = createPasswordHasher(11);
    const encoded = await bcrypt.hash('some password', 10);
    expect(await stronger.verify('some password', encoded)).toEqual({ ok: true, needsRehash: true });
  });

  it('never matches unusable or unknown hashes', async () => {
    expect((await hasher.verify('anything', '!unusable')).ok).toBe(false);
    expect((await hasher.verify('anything', 'argon2$argon2id$v=19$...')).ok).toBe(false);
    expect((await hasher.verify('anything', 'pbkdf2_sha256$0$salt$AAAA')).ok).toBe(false);
  });
});

/**
 * The password rules of sign-up. The minimum counts characters, as
 * Django's validator and the message do; the maximum counts UTF-8 bytes, because bcrypt reads only
 * the first 72 bytes and a longer password would silently match any of its extensions.
 */
export const PASSWORD_MIN_CHARACTERS = 8;
export const PASSWORD_MAX_BYTES = 72;

/** Message keys (entry/http/messages.ts) for every rule the password breaks; empty when it is fine. */
export function passwordProblems(password: string, username?: string): string[] {
  const problems: string[] = [];
  if ([...password].length < PASSWORD_MIN_CHARACTERS) problems.push('password_too_short');
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) problems.push('password_too_long');
  // Python's str.isdigit, which Django uses, is true for any Unicode decimal digits too.
  if (/^\p{Nd}+$/u.test(password)) problems.push('password_entirely_numeric');
  if (username !== undefined && username !== '' && password.toLowerCase() === username.toLowerCase()) {
    problems.push('password_same_as_username');
  }
  return problems;
}

/** Django's username rule: letters, digits and @ . + - _ (Unicode letters and digits included). */
export const USERNAME_PATTERN = /^[\p{L}\p{N}_.@+-]+$/u;
export const USERNAME_MAX_LENGTH = 150;

/** Django normalizes usernames to NFKC, so look-alike full-width forms name the same account. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC');
}

/** Django's normalize_email: the domain part is case-insensitive, so it is stored lower-case. */
export function normalizeEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0) return email.trim();
  return `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`.trim();
}

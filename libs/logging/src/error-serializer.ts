import { stdSerializers } from 'pino';

/**
 * What must never reach a log line even inside an error's text: password hashes (bcrypt, Django's
 * PBKDF2 and bcrypt_sha256) and JWTs. Database driver errors carry the failed SQL with its
 * parameters, so an insert of a user puts the new hash into the error message.
 */
const SECRET_PATTERNS: RegExp[] = [
  /\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}/g,
  /pbkdf2_sha(?:256|1)\$\d+\$[^$\s'",)]*\$[A-Za-z0-9+/=]+/g,
  /bcrypt(?:_sha256)?\$[^\s'",)]+/g,
  /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*/g,
];

/** Keys under which drivers keep a statement's bound values: dropped whole. */
const PARAMETER_KEYS = new Set(['params', 'parameters', 'bindings', 'values']);

export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const pattern of SECRET_PATTERNS) scrubbed = scrubbed.replace(pattern, '[redacted]');
  return scrubbed;
}

function scrubDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (!value || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = PARAMETER_KEYS.has(key) ? '[redacted]' : scrubDeep(inner, depth + 1);
  }
  return out;
}

/** pino's error serializer, with every string scrubbed of secrets and bound parameters dropped. */
export function errorSerializer(error: unknown): unknown {
  if (!(error instanceof Error)) return scrubDeep(error, 0);
  return scrubDeep(stdSerializers.err(error), 0);
}

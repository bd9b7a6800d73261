/** Error codes (node socket errors and Postgres SQLSTATEs) that mean "the database is not reachable". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '53300', // too_many_connections
]);

const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /timeout acquiring a connection/i,
  /connection (?:is )?closed/i,
  /client has encountered a connection error/i,
  /terminating connection/i,
];

interface ErrorLike {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
  name?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * The error and what it wraps: MikroORM copies the driver error's fields onto its own, others use
 * `cause`, and a failed connect to a host with several addresses is an AggregateError.
 */
function* chain(error: unknown, seen = new Set<unknown>()): Generator<ErrorLike> {
  if (!error || typeof error !== 'object' || seen.has(error)) return;
  seen.add(error);
  const e = error as ErrorLike;
  yield e;
  yield* chain(e.cause, seen);
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, seen);
}

/** True for a unique-constraint violation (23505), optionally of one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  for (const e of chain(error)) {
    if (e.code === '23505' && (constraint === undefined || e.constraint === constraint)) return true;
  }
  return false;
}

/**
 * True when the database could not be reached or dropped the connection, as opposed to a bug or a
 * constraint: services answer these with 503 DATABASEERROR instead of 500.
 */
export function isConnectionError(error: unknown): boolean {
  for (const e of chain(error)) {
    if (e.name === 'ConnectionException') return true;
    if (typeof e.code === 'string' && (CONNECTION_CODES.has(e.code) || e.code.startsWith('08'))) return true;
    if (typeof e.message === 'string' && CONNECTION_MESSAGES.some((re) => re.test(e.message as string))) return true;
  }
  return false;
}

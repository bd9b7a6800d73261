import { remoteKeySource } from './jwks';
import { type NotBeforeRedis, type NotBeforeStore, redisNotBefore } from './not-before';
import { createTokenVerifier, type TokenVerifier } from './verify';

/** The shared settings (libs/config's infrastructure shape) the token checks read. */
export interface TokenCheckSettings {
  REDIS_PREFIX: string;
  REDIS_TIMEOUT_MS: number;
}

interface WarningLog {
  warn(fields: object, message: string): void;
}

/** The not-before marks as every process reads them: an unreadable mark accepts the token, logged once per outage. */
export function notBeforeMarksOf(redis: NotBeforeRedis, settings: TokenCheckSettings, log: WarningLog): NotBeforeStore {
  return redisNotBefore(redis, {
    prefix: settings.REDIS_PREFIX,
    timeoutMs: settings.REDIS_TIMEOUT_MS,
    onUnavailable: (error) => log.warn({ err: error }, 'not-before marks unreadable; tokens accepted'),
  });
}

/** How a service behind the gateway checks access tokens: the auth service's published keys and the not-before marks. */
export function serviceTokenVerifier(
  settings: TokenCheckSettings & { AUTH_JWKS_URL: string },
  redis: NotBeforeRedis,
  log: WarningLog,
): TokenVerifier {
  return createTokenVerifier(remoteKeySource(settings.AUTH_JWKS_URL), {
    notBefore: notBeforeMarksOf(redis, settings, log),
  });
}

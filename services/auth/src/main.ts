import type { Server } from 'node:http';
import { notBeforeMarksOf } from '@imm/auth';
import { OutboxMessage, ProcessedEvent } from '@imm/bus';
import type { Database } from '@imm/db';
import { isEntryPoint, runMain, startService, busOf, listeningOf } from '@imm/host';
import { createLogger, type Logger } from '@imm/logging';
import type { Redis } from 'ioredis';
import { startHashingThreads } from './adapters/hashing-threads';
import { createApp } from './app';
import { type AuthConfig, loadAuthConfig } from './config';
import { accountStore } from './adapters/data/account-store';
import { RefreshToken, SigningKey, User } from './adapters/data/entities';
import { migrations } from './adapters/data/migrations';
import { redisNotBeforeMarks } from './adapters/data/not-before-marks';
import { signingKeyRepository } from './adapters/data/signing-key-repository';
import { createUserImportStore } from './adapters/data/user-import-store';
import { createAccounts } from './domain/accounts';
import { createPasswordHasher } from './adapters/password-hasher';
import { createPasswordWork } from './adapters/password-work';
import { createSessions } from './domain/sessions';
import { createSignInThrottle } from './adapters/sign-in-throttle';
import { createSignUpThrottle } from './adapters/sign-up-throttle';
import { resolveSigningKeys } from './adapters/signing-keys';
import { createTokenService } from './adapters/jwt-tokens';
import { serveImportUsers } from './entry/events/import-users';
import { measuredHasher, measuredPasswordWork } from './adapters/metrics';

export interface RunningAuthService {
  server: Server;
  /** The port bound (useful with PORT=0). */
  port: number;
  stop(): Promise<void>;
}

/** Expired refresh-token rows are deleted this often. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** The auth service: what it opens, in order; tests start it in-process through this too. */
export async function startAuthService(config: AuthConfig, logger = createLogger('auth', config.LOG_LEVEL)) {
  const { server, port, stop } = await startService({
    logger,
    database: {
      url: config.DATABASE_URL,
      schema: 'auth',
      entities: [User, RefreshToken, SigningKey, OutboxMessage, ProcessedEvent],
      migrations,
    },
    bus: busOf(config, 'auth'),
    relay: {},
    // The throttles count in memory while it is away; a sign-in never waits for it.
    redis: { main: { url: config.REDIS_URL, kind: 'command', commandTimeoutMs: config.THROTTLE_REDIS_TIMEOUT_MS } },
    context: ({ orm, redis, own, eventsCommitted }) =>
      openAccounts(config, logger, orm, redis.main, own, eventsCommitted),
    entries: {
      'import-users': ({ bus, orm, eventsCommitted }) =>
        serveImportUsers(bus, createUserImportStore(orm, { onEventsCommitted: eventsCommitted })),
    },
    timers: [
      {
        name: 'purging expired refresh tokens',
        everyMs: PURGE_INTERVAL_MS,
        run: async ({ sessions }) => {
          const deleted = await sessions.purgeExpired(new Date());
          if (deleted > 0) logger.info({ deleted }, 'expired refresh tokens purged');
        },
      },
    ],
    http: {
      ...listeningOf(config),
      app: ({ accounts, sessions, tokens, keys, readiness }) =>
        createApp({
          logger,
          accounts,
          sessions,
          tokens,
          keys,
          cookies: {
            secure: config.MODE === 'RELEASE',
            accessSeconds: config.ACCESS_TOKEN_LIFETIME,
            refreshSeconds: config.REFRESH_TOKEN_LIFETIME,
          },
          readiness,
        }),
    },
  });
  logger.info({ port }, 'auth service listening');
  return { server, port, stop } satisfies RunningAuthService;
}

/** Signing keys, tokens, sessions and accounts (with the admin seeded): what the routes use. */
async function openAccounts(
  config: AuthConfig,
  logger: Logger,
  orm: Database,
  redis: Redis,
  own: <T>(thing: T) => T,
  eventsCommitted: () => void,
) {
  const keys = await resolveSigningKeys({
    privateKey: config.JWT_PRIVATE_KEY,
    previousPublicKeys: config.JWT_PREVIOUS_PUBLIC_KEYS,
    storedDevKey: (candidate) => signingKeyRepository(orm.em.fork()).findOrStore(candidate),
  });
  logger.info({ kid: keys.kid, source: keys.source }, 'signing key ready');
  const tokens = createTokenService(
    keys,
    { accessSeconds: config.ACCESS_TOKEN_LIFETIME, refreshSeconds: config.REFRESH_TOKEN_LIFETIME },
    {
      notBefore: notBeforeMarksOf(redis, config, logger),
    },
  );
  const marks = redisNotBeforeMarks(redis, config.REDIS_PREFIX, config.ACCESS_TOKEN_LIFETIME);
  const store = accountStore(orm);
  const sessions = createSessions({ store, tokens, marks, logger });
  const hashing = own(
    startHashingThreads({ threads: config.PASSWORD_WORK_CONCURRENCY, nice: config.PASSWORD_WORK_NICE }),
  );
  const work = createPasswordWork({
    concurrency: config.PASSWORD_WORK_CONCURRENCY,
    maxQueued: config.PASSWORD_WORK_QUEUE,
  });
  const accounts = createAccounts({
    store,
    hasher: measuredHasher(createPasswordHasher(config.BCRYPT_ROUNDS, measuredPasswordWork(work), hashing)),
    sessions,
    throttle: createSignInThrottle({
      redis,
      prefix: config.REDIS_PREFIX,
      maxFailuresPerPair: config.SIGNIN_MAX_FAILURES_PER_PAIR,
      maxFailuresPerAddress: config.SIGNIN_MAX_FAILURES_PER_IP,
      usernameDelayAfter: config.SIGNIN_USERNAME_DELAY_AFTER,
      usernameDelayBaseMs: config.SIGNIN_USERNAME_DELAY_BASE_MS,
      usernameDelayMaxMs: config.SIGNIN_USERNAME_DELAY_MAX_MS,
      windowSeconds: config.SIGNIN_FAILURE_WINDOW,
      redisTimeoutMs: config.THROTTLE_REDIS_TIMEOUT_MS,
    }),
    signUpThrottle: createSignUpThrottle({
      redis,
      prefix: config.REDIS_PREFIX,
      maxPerAddress: config.SIGNUP_MAX_PER_IP,
      windowSeconds: config.SIGNUP_WINDOW,
      redisTimeoutMs: config.THROTTLE_REDIS_TIMEOUT_MS,
    }),
    logger,
    // Publish at once instead of at the relay's next poll; what fails stays for the poll.
    eventsRecorded: eventsCommitted,
  });
  await accounts.seedAdmin({ password: config.ADMIN_PASSWORD, email: config.ADMIN_EMAIL });
  return { keys, tokens, sessions, accounts };
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'auth', title: 'auth service', loadConfig: loadAuthConfig, start: startAuthService });
}

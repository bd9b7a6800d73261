import type { Server } from 'node:http';
import { redisNotBefore } from '@imm/auth';
import { busReady, connectBus, OutboxMessage, ProcessedEvent, startOutboxRelay } from '@imm/bus';
import { checkDatabase, openDatabase } from '@imm/db';
import { createLogger, type Logger } from '@imm/logging';
import { closerStack, serveHttp, isEntryPoint, redisReady, runMain } from '@imm/web';
import { Redis } from 'ioredis';
import { createApp } from './app';
import { type AuthConfig, loadAuthConfig } from './config';
import { RefreshToken, SigningKey, User } from './data/entities';
import { migrations } from './data/migrations';
import { redisNotBeforeMarks } from './data/not-before-marks';
import { signingKeyRepository } from './data/signing-key-repository';
import { createUserImportStore } from './data/user-import-store';
import { createAccounts } from './domain/accounts';
import { startHashingThreads } from './adapters/hashing-threads';
import { createPasswordHasher } from './domain/passwords';
import { createPasswordWork } from './domain/password-work';
import { createSessions } from './domain/sessions';
import { createSignInThrottle } from './domain/sign-in-throttle';
import { createSignUpThrottle } from './domain/sign-up-throttle';
import { resolveSigningKeys } from './domain/signing-keys';
import { createTokenService } from './domain/tokens';
import { serveImportUsers } from './events/import-users';
import { measuredHasher, measuredPasswordWork } from './metrics';

export interface RunningAuthService {
  server: Server;
  /** The port bound (useful with PORT=0). */
  port: number;
  stop(): Promise<void>;
}

/** Expired refresh-token rows are deleted this often. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;

function connectRedis(url: string, commandTimeoutMs: number, logger: Logger): Redis {
  const redis = new Redis(url, {
    // Fail at once while disconnected: the throttle then counts in memory instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A stalled Redis (connected, not answering) must not hold a sign-in longer than this.
    commandTimeout: commandTimeoutMs,
  });
  let down = false;
  redis.on('error', (error) => {
    if (!down) logger.warn({ err: error }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis reconnected');
    down = false;
  });
  return redis;
}

/**
 * Opens everything the service needs, in order, and returns a handle whose `stop` closes it all in
 * reverse order. Tests start the service in-process through this too.
 */
export async function startAuthService(config: AuthConfig, logger = createLogger('auth', config.LOG_LEVEL)) {
  const closers = closerStack(logger);
  try {
    const orm = await openDatabase({
      url: config.DATABASE_URL,
      schema: 'auth',
      entities: [User, RefreshToken, SigningKey, OutboxMessage, ProcessedEvent],
      migrations,
      logger,
    });
    closers.push(() => orm.close());

    const redis = connectRedis(config.REDIS_URL, config.THROTTLE_REDIS_TIMEOUT_MS, logger);
    closers.push(() => redis.quit().catch(() => redis.disconnect()));

    const bus = await connectBus({
      url: config.NATS_URL,
      prefix: config.BUS_PREFIX,
      streamReplicas: config.NATS_STREAM_REPLICAS,
      name: 'auth',
      logger,
    });
    closers.push(() => bus.close());
    const relay = startOutboxRelay({ orm, bus, logger });
    closers.push(() => relay.stop());

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
        notBefore: redisNotBefore(redis, {
          prefix: config.REDIS_PREFIX,
          timeoutMs: config.REDIS_TIMEOUT_MS,
          onUnavailable: (error) => logger.warn({ err: error }, 'not-before marks unreadable; tokens accepted'),
        }),
      },
    );
    const marks = redisNotBeforeMarks(redis, config.REDIS_PREFIX, config.ACCESS_TOKEN_LIFETIME);
    const sessions = createSessions({ orm, tokens, marks, logger });
    const hashing = startHashingThreads({ threads: config.PASSWORD_WORK_CONCURRENCY, nice: config.PASSWORD_WORK_NICE });
    closers.push(() => hashing.close());
    const accounts = createAccounts({
      orm,
      hasher: measuredHasher(
        createPasswordHasher(
          config.BCRYPT_ROUNDS,
          measuredPasswordWork(
            createPasswordWork({
              concurrency: config.PASSWORD_WORK_CONCURRENCY,
              maxQueued: config.PASSWORD_WORK_QUEUE,
            }),
          ),
          hashing,
        ),
      ),
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
      eventsRecorded: relay.wake,
    });
    await accounts.seedAdmin({ password: config.ADMIN_PASSWORD, email: config.ADMIN_EMAIL });
    const importer = serveImportUsers(bus, createUserImportStore(orm, { onEventsCommitted: () => void relay.flush() }));
    closers.push(() => importer.stop());

    const purge = setInterval(() => {
      sessions.purgeExpired(new Date()).then(
        (deleted) => deleted > 0 && logger.info({ deleted }, 'expired refresh tokens purged'),
        (error) => logger.warn({ err: error }, 'purging expired refresh tokens failed'),
      );
    }, PURGE_INTERVAL_MS);
    purge.unref();
    closers.push(() => clearInterval(purge));

    const app = createApp({
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
      readiness: {
        database: () => checkDatabase(orm),
        redis: () => redisReady(redis),
        nats: () => busReady(bus),
      },
    });
    const { server, port } = await serveHttp(app, config.PORT, closers, {
      host: config.HOST,
      trustedProxies: config.TRUSTED_PROXIES,
    });
    logger.info({ port }, 'auth service listening');
    return { server, port, stop: closers.closeAll } satisfies RunningAuthService;
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}

if (isEntryPoint(import.meta.url)) {
  void runMain({ name: 'auth', title: 'auth service', loadConfig: loadAuthConfig, start: startAuthService });
}

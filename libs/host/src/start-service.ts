import type { Server } from 'node:http';
import type { Bus, BusOptions, OutboxRelay, OutboxRelayOptions } from '@imm/bus';
import type { Database, DatabaseOptions } from '@imm/db';
import type { Logger } from '@imm/logging';
import { type ReadinessChecks, type ServeOptions, serveHttp } from '@imm/web';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { partsOf } from './parts';
import { type OpenedDependencies, readinessOf } from './readiness';
import { closeRedis, connectRedis, type RedisConnectionOptions, waitForRedis } from './redis';
import { startTimer } from './timers';

export interface RedisDeclaration extends RedisConnectionOptions {
  /** Wait up to this long for the first connect before going on (never fails). Not at all by default. */
  waitMs?: number;
}

/** What the process's own code gets: everything the host opened, and a way to hand it more to close. */
export interface Opened<R extends string> {
  logger: Logger;
  /** The database (declared with `database`). */
  orm: Database;
  /** The bus (declared with `bus`). */
  bus: Bus;
  /** The outbox relay (declared with `relay`). */
  relay: OutboxRelay;
  /**
   * What every store and use case calls after committing events: the relay publishes them now
   * rather than at its next poll (whatever this misses, the poll still catches).
   */
  eventsCommitted: () => void;
  /** The Redis connections, by the names declared. */
  redis: Record<R, Redis>;
  /** `/readyz` checks for exactly what the host opened; give them to the app. */
  readiness: ReadinessChecks;
  /** Closes `thing` in turn with the rest (newest first); `close` defaults to its close() or stop(). */
  own<T>(thing: T, close?: (thing: T) => unknown, name?: string): T;
}

export interface Stoppable {
  stop(): unknown;
}

export interface TimerDeclaration<C> {
  /** Logged as `<name> failed` when a run fails. */
  name: string;
  everyMs: number;
  run: (context: C) => Promise<unknown>;
}

export interface ServiceDeclaration<R extends string, C> {
  logger: Logger;
  /** Opened first, with its migrations applied. */
  database?: Omit<DatabaseOptions, 'logger'>;
  /** Then the bus, with every stream the contracts name declared. */
  bus?: Omit<BusOptions, 'logger'>;
  /** Then the outbox relay (needs the database and the bus). */
  relay?: Omit<OutboxRelayOptions, 'orm' | 'bus' | 'logger'>;
  /** Then the Redis connections, in the order named. */
  redis?: Record<R, RedisDeclaration>;
  /** Then what the entries and the app share: stores, use cases, queues (give what needs closing to `own`). */
  context?: (opened: Opened<R>) => C | Promise<C>;
  /**
   * Then every way in other than HTTP, by name, in this order: consumers, responders, queue
   * workers, loops. One switched off by configuration is `false`.
   */
  entries?: Record<string, false | ((context: Opened<R> & C) => Stoppable | Promise<Stoppable>)>;
  /** Then timers. */
  timers?: TimerDeclaration<Opened<R> & C>[];
  /** Last the HTTP server: nothing is served before everything above is open. */
  http: ServeOptions & { port: number; app: (context: Opened<R> & C) => Express };
}

export interface RunningService<R extends string, C> {
  server: Server;
  /** The port bound (useful with PORT=0). */
  port: number;
  /** What `context` built, with everything the host opened. */
  context: Opened<R> & C;
  /** Closes everything in reverse order of opening. */
  stop(): Promise<void>;
}

function undeclared(what: string): never {
  throw new Error(`this process declared no ${what}`);
}

/**
 * Opens what the declaration names, in this order: database, bus, outbox relay, Redis, context,
 * entries, timers, HTTP; builds `/readyz` from what it opened; and closes everything in reverse
 * order on `stop()`, or at once when opening fails half-way (then rethrows).
 */
export async function startService<R extends string = never, C extends object = object>(
  declaration: ServiceDeclaration<R, C>,
): Promise<RunningService<R, C>> {
  const { logger } = declaration;
  const parts = partsOf(logger);
  const { own } = parts;

  try {
    const { database, bus: busDeclared, relay: relayDeclared } = declaration;
    // Imported only when declared (dependencies.ts).
    const libraries = (database || busDeclared || relayDeclared) && (await import('./dependencies'));
    const orm =
      libraries && database
        ? own(await libraries.openDatabase({ ...database, logger }), (db) => db.close(), 'database')
        : undefined;
    const bus =
      libraries && busDeclared
        ? own(await libraries.connectBus({ ...busDeclared, logger }), undefined, 'bus')
        : undefined;
    let relay: OutboxRelay | undefined;
    if (libraries && relayDeclared) {
      if (!orm || !bus) throw new Error('the outbox relay needs a database and a bus');
      relay = own(libraries.startOutboxRelay({ ...relayDeclared, orm, bus, logger }), undefined, 'relay');
    }
    const dependencies: OpenedDependencies = {
      database: libraries && orm ? () => libraries.checkDatabase(orm) : undefined,
      nats: libraries && bus ? () => libraries.busReady(bus) : undefined,
      redis: [],
    };
    const redis = {} as Record<R, Redis>;
    for (const [name, options] of Object.entries(declaration.redis ?? {}) as [R, RedisDeclaration][]) {
      const connection = own(connectRedis(name, options, logger), closeRedis, `redis ${name}`);
      if (options.waitMs) await waitForRedis(connection, options.waitMs);
      redis[name] = connection;
      dependencies.redis.push({ name, kind: options.kind, connection });
    }

    const base: Opened<R> = {
      logger,
      get orm() {
        return orm ?? undeclared('database');
      },
      get bus() {
        return bus ?? undeclared('bus');
      },
      get relay() {
        return relay ?? undeclared('outbox relay');
      },
      get eventsCommitted() {
        return relay?.wake ?? undeclared('outbox relay');
      },
      redis,
      readiness: readinessOf(dependencies),
      own,
    };
    const built = await declaration.context?.(base);
    // Descriptors, not a spread: the opened resources' getters stay getters.
    const context = Object.defineProperties(
      {},
      { ...Object.getOwnPropertyDescriptors(base), ...Object.getOwnPropertyDescriptors(built ?? {}) },
    ) as Opened<R> & C;

    for (const [name, entry] of Object.entries(declaration.entries ?? {})) {
      if (entry) own(await entry(context), (running) => running.stop(), name);
    }
    for (const timer of declaration.timers ?? []) {
      own(
        startTimer(timer.name, timer.everyMs, () => timer.run(context), logger),
        undefined,
        `timer ${timer.name}`,
      );
    }

    const { app, port: wanted, ...serve } = declaration.http;
    // On the same stack: the server closes first.
    const { server, port } = await serveHttp(app(context), wanted, parts.stackFor('http'), serve);
    return { server, port, context, stop: parts.closeAll };
  } catch (error) {
    await parts.closeAll();
    throw error;
  }
}

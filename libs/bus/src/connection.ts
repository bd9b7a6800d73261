import { type EventType, events, streamOf, streams } from '@imm/contracts';
import type { Logger } from '@imm/logging';
import {
  connect,
  DebugEvents,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type QueuedIterator,
  nanos,
  RetentionPolicy,
  type Status,
  type StreamConfig,
  StorageType,
} from 'nats';
import { StreamDeclarationError } from './errors';
import { deadLetterStreamName, streamNameOf, subjectOf } from './subjects';

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  prefix: string;
  logger: Logger;
  close(): Promise<void>;
  isConnected(): boolean;
}

/** Readiness: connected, and the server answers a round trip. */
export async function busReady(bus: Bus): Promise<void> {
  if (!bus.isConnected()) throw new Error('NATS is not connected');
  await bus.nc.flush();
}

export interface BusOptions {
  url: string;
  /** BUS_PREFIX: subjects start with it, stream names with its upper-case form. */
  prefix: string;
  /** Connection name, shown by the server (e.g. `machines`). */
  name: string;
  logger: Logger;
  /**
   * NATS_STREAM_REPLICAS: how many servers keep a copy of each stream (at most the cluster's size;
   * a single server takes only 1). Given, it is applied to existing streams too; left out (tools),
   * streams are created with one replica and existing ones keep theirs.
   */
  streamReplicas?: number;
}

/** Long enough for any consumer outage we plan for; bounded so file storage does not grow forever. */
const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** A re-publish within this window (relay retry, a second relay) is dropped by JetStream by msg id. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

function streamConfigs(prefix: string, replicas: number): Partial<StreamConfig>[] {
  const common = {
    num_replicas: replicas,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(RETENTION_MS),
  };
  return [
    ...streams.map((service) => ({
      ...common,
      name: streamNameOf(prefix, service),
      // Exactly the service's event subjects, not `<prefix>.<service>.>`: request/reply subjects
      // (`<prefix>.machines.machine.get`) share that namespace, and a stream capturing them would
      // answer requests with a publish ack.
      subjects: (Object.keys(events) as EventType[])
        .filter((type) => streamOf(type) === service)
        .map((type) => subjectOf(prefix, type))
        .sort(),
    })),
    { ...common, name: deadLetterStreamName(prefix), subjects: [`${prefix}.dead.>`] },
  ];
}

/**
 * Declares every stream the contracts name (idempotent; several processes may do it at once),
 * so a consumer can bind before the publishing service has ever started. With `replicas` given,
 * an existing stream with another replica count is changed to it (JetStream moves or adds the
 * copies itself); without, existing streams keep theirs and new ones get one.
 */
export async function declareStreams(jsm: JetStreamManager, prefix: string, replicas?: number): Promise<void> {
  for (const config of streamConfigs(prefix, replicas ?? 1)) {
    const name = config.name as string;
    const existing = await jsm.streams.info(name).catch(() => null);
    if (existing) {
      const sameSubjects = [...(existing.config.subjects ?? [])].sort().join() === config.subjects?.join();
      const sameReplicas = replicas === undefined || existing.config.num_replicas === replicas;
      if (!sameSubjects || !sameReplicas || existing.config.duplicate_window !== config.duplicate_window) {
        const wanted = { ...existing.config, ...config, num_replicas: replicas ?? existing.config.num_replicas };
        await jsm.streams.update(name, wanted).catch((error: unknown) => {
          throw new StreamDeclarationError(name, wanted.num_replicas, error);
        });
      }
      continue;
    }
    try {
      await jsm.streams.add(config);
    } catch (error) {
      // Another process created it between our info and add; only a missing stream is a failure.
      if (!(await jsm.streams.info(name).catch(() => null)))
        throw new StreamDeclarationError(name, replicas ?? 1, error);
    }
  }
}

/**
 * Connects to NATS and keeps reconnecting forever (also while waiting for the first connect), so
 * a NATS outage of any length delays work instead of ending the process.
 */
export async function connectBus(options: BusOptions): Promise<Bus> {
  const { prefix, logger } = options;
  const nc = await connect({
    servers: options.url,
    name: options.name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 1000,
    // Otherwise every request (and every JetStream publish, which is one) captures two stack traces
    // up front, for a timeout's message: 2–5 % of a busy service's CPU (bench/README, finding 20).
    noAsyncTraces: true,
  });
  let connected = true;
  logger.info({ server: nc.getServer() }, 'nats connected');
  // Typed as AsyncIterable, but it is a QueuedIterator, which close() needs to stop.
  const statuses = nc.status() as QueuedIterator<Status>;
  void (async () => {
    for await (const status of statuses) {
      if (status.type === Events.Disconnect) {
        connected = false;
        logger.warn({ server: status.data }, 'nats disconnected');
      } else if (status.type === Events.Reconnect) {
        connected = true;
        logger.info({ server: status.data }, 'nats reconnected');
      } else if (status.type === Events.Error || status.type === Events.LDM) {
        logger.warn({ status: status.type, data: status.data }, 'nats status');
      } else if (status.type === DebugEvents.StaleConnection) {
        logger.warn('nats connection stale');
      }
    }
  })();
  const jsm = await nc.jetstreamManager();
  try {
    await declareStreams(jsm, prefix, options.streamReplicas);
  } catch (error) {
    // The process will not start: leave no connection reconnecting behind.
    await nc.close();
    statuses.stop();
    throw error;
  }
  return {
    nc,
    js: nc.jetstream(),
    jsm,
    prefix,
    logger,
    isConnected: () => connected && !nc.isClosed(),
    async close() {
      if (nc.isClosed()) return;
      // Consumers and relays are stopped first by their owners, so nothing is in flight here.
      await nc.close();
      statuses.stop(); // the status iterator does not end by itself when the connection closes
      logger.info('nats closed');
    },
  };
}

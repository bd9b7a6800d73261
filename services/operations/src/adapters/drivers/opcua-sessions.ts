import type { Logger } from '@imm/logging';
import type { ClientSession } from 'node-opcua-client';
import { TransportError } from './driver';
import type { NetworkPolicy } from './network-policy';
import type { OpcuaEndpoint } from './opcua-endpoint';
import { loadOpcua } from './opcua-loader';
import type { MachineNodes } from './opcua-nodes';

/** What an operator configures for OPC UA (see the operations README). */
export interface OpcuaSettings {
  /** Keeps the client's certificate and key, and the trusted/rejected server certificates. */
  pkiFolder: string;
  /** Signs in with these instead of anonymously when set. */
  userName?: string;
  password?: string;
  /** Accept a server certificate not yet in the PKI folder's trusted list (DEV convenience). */
  trustUnknownServers: boolean;
  /** Limit of one connection attempt (TCP, secure channel, session). */
  connectTimeoutMs: number;
  /** A session unused this long is closed. */
  sessionIdleMs: number;
  /** After a Good method result, how long `JobStatus` has to reach its target. */
  transitionTimeoutMs: number;
  /** While `JobStatus` shows START_UP_ACTIVE, how long START waits in all. */
  startupTimeoutMs: number;
}

export interface OpcuaDriverContext {
  settings: OpcuaSettings;
  sessions: OpcuaSessionPool;
}

/** One open client with its session. */
export interface OpcuaConnection {
  session: ClientSession;
  /** True once the connection or the session was lost; it is never used again. */
  readonly broken: boolean;
  /** Calls `listener` once when it breaks (at once if it has); returns the way to stop listening. */
  onBroken(listener: () => void): () => void;
  close(): Promise<void>;
}

/** A session lent to one command; `release` gives it back to the pool. */
export interface LentSession {
  session: ClientSession;
  /** The machine's nodes, resolved once per session and device. */
  nodes(device: string | undefined): Promise<MachineNodes>;
  readonly broken: boolean;
  onBroken(listener: () => void): () => void;
  release(): void;
}

export interface OpcuaSessionPool {
  /** A session on the endpoint's server: an open one again, or a new one (TransportError if none). */
  acquire(endpoint: OpcuaEndpoint, policy: NetworkPolicy, signal: AbortSignal): Promise<LentSession>;
  closeAll(): Promise<void>;
}

/**
 * The worker's OPC UA sessions (see `createSessionPool` in `opcua-session-pool.ts`). node-opcua is
 * loaded with the first session asked for, not before: a worker without OPC UA machines never
 * loads it (some 70 MB) nor touches the PKI folder, and closing such a pool does nothing.
 */
export function createOpcuaSessionPool(settings: OpcuaSettings, logger: Logger): OpcuaSessionPool {
  let loaded: Promise<OpcuaSessionPool> | undefined;
  let closed = false;
  const pool = () => {
    loaded ??= loadOpcua().then(({ createSessionPool }) => createSessionPool(settings, logger));
    return loaded;
  };
  return {
    async acquire(endpoint, policy, signal) {
      if (closed && !loaded) throw new TransportError('shutting down');
      return (await pool()).acquire(endpoint, policy, signal);
    },
    async closeAll() {
      closed = true;
      // A pool still loading is closed once it stands: what it opens meanwhile is closed with it.
      await loaded?.then(
        (sessions) => sessions.closeAll(),
        () => {},
      );
    },
  };
}

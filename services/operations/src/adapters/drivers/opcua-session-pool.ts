import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '@imm/logging';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  type ClientSession,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  setErrorLogger,
  setWarningLogger,
  type UserIdentityInfo,
  UserTokenType,
} from 'node-opcua-client';
import { EndpointRejectedError, NOT_ALLOWED_REASON, TransportError } from './driver';
import { type OpcuaEndpoint, serverUrlAt, sessionKeyOf } from './opcua-endpoint';
import { findMachineNodes, type MachineNodes } from './opcua-nodes';
import type { NetworkPolicy } from './network-policy';
import type { OpcuaConnection, OpcuaSessionPool, OpcuaSettings } from './opcua-sessions';

/** node-opcua prints its warnings to stdout; the process's stdout carries JSON log lines only. */
export function routeOpcuaLogs(logger: Logger): void {
  const child = logger.child({ component: 'node-opcua' });
  const text = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? a : String(a))).join(' ');
  setWarningLogger((...args: unknown[]) => child.debug(text(args)));
  setErrorLogger((...args: unknown[]) => child.warn(text(args)));
}

/**
 * The PKI folder is shared by every client of the process: one stable client certificate. It is
 * initialized (folder and private key created when missing) before any client uses it, since
 * clients initializing one manager at the same time race on the key.
 */
export async function createCertificateManager(settings: OpcuaSettings): Promise<OPCUACertificateManager> {
  const manager = new OPCUACertificateManager({
    rootFolder: settings.pkiFolder,
    automaticallyAcceptUnknownCertificate: settings.trustUnknownServers,
  });
  await manager.initialize();
  return manager;
}

/**
 * The address to connect to: an address literal as it is, a host name resolved; only addresses
 * MACHINE_NETWORKS allows (the client connects to this address, so DNS cannot swap it later).
 */
export async function allowedAddress(host: string, policy: NetworkPolicy): Promise<string> {
  const outside = () =>
    new EndpointRejectedError(
      `endpoint host ${host} is outside MACHINE_NETWORKS (${policy.networks.join(', ')})`,
      NOT_ALLOWED_REASON,
    );
  if (isIP(host)) {
    if (!policy.allows(host)) throw outside();
    return host;
  }
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch (error) {
    throw new TransportError(`machine unreachable: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      cause: error,
    });
  }
  const allowed = addresses.find((a) => policy.allows(a.address));
  if (!allowed) throw outside();
  return allowed.address;
}

function userIdentity(settings: OpcuaSettings): UserIdentityInfo | undefined {
  if (!settings.userName) return undefined;
  return { type: UserTokenType.UserName, userName: settings.userName, password: settings.password ?? '' };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

/**
 * Opens a client and a session on one endpoint, once: node-opcua's own connection strategy would
 * retry forever, so it is told not to retry and each attempt is limited by `connectTimeoutMs` (and
 * `signal`). No connection or no session is a TransportError.
 */
export async function openConnection(
  endpoint: OpcuaEndpoint,
  address: string,
  settings: OpcuaSettings,
  certificateManager: OPCUACertificateManager,
  signal?: AbortSignal,
): Promise<OpcuaConnection> {
  const secure = endpoint.security !== 'none';
  const client = OPCUAClient.create({
    applicationName: 'imm-control',
    clientName: 'imm-control',
    clientCertificateManager: certificateManager,
    securityMode:
      endpoint.security === 'sign'
        ? MessageSecurityMode.Sign
        : secure
          ? MessageSecurityMode.SignAndEncrypt
          : MessageSecurityMode.None,
    securityPolicy: secure ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
    // The address was checked against MACHINE_NETWORKS; the server may advertise its own host name.
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: Math.max(settings.sessionIdleMs * 2, 60_000),
    keepSessionAlive: true,
  });
  let broken = false;
  const listeners: (() => void)[] = [];
  const breakOnce = () => {
    if (broken) return;
    broken = true;
    for (const listener of listeners.splice(0)) listener();
  };
  const timeout = AbortSignal.timeout(settings.connectTimeoutMs);
  const limit = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () =>
      reject(
        new TransportError(
          limit.reason?.name === 'TimeoutError' ? `no session within ${settings.connectTimeoutMs} ms` : 'aborted',
        ),
      );
    if (limit.aborted) onAbort();
    else limit.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  let session: ClientSession | undefined;
  try {
    await Promise.race([client.connect(serverUrlAt(endpoint, address)), aborted]);
    session = await Promise.race([client.createSession(userIdentity(settings)), aborted]);
  } catch (error) {
    await client.disconnect().catch(() => {});
    if (error instanceof TransportError) throw error;
    throw new TransportError(`no OPC UA session with ${endpoint.serverUrl}: ${describe(error)}`, { cause: error });
  }
  const opened = session;
  client.on('connection_lost', breakOnce);
  client.on('start_reconnection', breakOnce);
  client.on('close', breakOnce);
  opened.on('session_closed', breakOnce);
  opened.on('keepalive_failure', breakOnce);
  return {
    session: opened,
    get broken() {
      return broken;
    },
    onBroken(listener) {
      if (broken) {
        listener();
        return () => {};
      }
      listeners.push(listener);
      return () => {
        const index = listeners.indexOf(listener);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    async close() {
      breakOnce();
      await opened.close().catch(() => {});
      await client.disconnect().catch(() => {});
    },
  };
}

interface PooledConnection {
  connection: OpcuaConnection;
  /** The address it connected to, as MACHINE_NETWORKS allowed it. */
  address: string;
  nodes: Map<string, Promise<MachineNodes>>;
  users: number;
  lastUsed: number;
}

/**
 * Sessions kept per server endpoint and security mode and reused by the commands that follow; a
 * session unused for `sessionIdleMs` is closed, a broken one dropped at once, all on shutdown.
 * Made by `createOpcuaSessionPool` (`opcua-sessions.ts`) once the first session is asked for.
 */
export function createSessionPool(settings: OpcuaSettings, logger: Logger): OpcuaSessionPool {
  routeOpcuaLogs(logger);
  // Made on first use: a worker without OPC UA machines never touches the PKI folder.
  let certificates: Promise<OPCUACertificateManager> | undefined;
  const certificateManager = () => {
    if (!certificates) {
      const made = createCertificateManager(settings);
      made.catch(() => {
        if (certificates === made) certificates = undefined;
      });
      certificates = made;
    }
    return certificates;
  };
  const pool = new Map<string, PooledConnection>();
  const opening = new Map<string, Promise<PooledConnection>>();
  let closed = false;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [key, pooled] of pool) {
        if (pooled.users === 0 && now - pooled.lastUsed >= settings.sessionIdleMs) {
          pool.delete(key);
          void pooled.connection.close();
          logger.debug({ endpoint: key }, 'idle OPC UA session closed');
        }
      }
    },
    Math.max(250, Math.min(settings.sessionIdleMs / 2, 30_000)),
  );
  sweep.unref();

  async function open(endpoint: OpcuaEndpoint, policy: NetworkPolicy, signal: AbortSignal): Promise<PooledConnection> {
    const address = await allowedAddress(endpoint.host, policy);
    const connection = await openConnection(endpoint, address, settings, await certificateManager(), signal);
    const pooled: PooledConnection = { connection, address, nodes: new Map(), users: 0, lastUsed: Date.now() };
    const key = sessionKeyOf(endpoint);
    connection.onBroken(() => {
      if (pool.get(key) === pooled) pool.delete(key);
      void connection.close();
      logger.info({ endpoint: key }, 'OPC UA session lost');
    });
    if (closed) {
      await connection.close();
      throw new TransportError('shutting down');
    }
    pool.set(key, pooled);
    return pooled;
  }

  return {
    async acquire(endpoint, policy, signal) {
      const key = sessionKeyOf(endpoint);
      let pooled = pool.get(key);
      if (!pooled || pooled.connection.broken) {
        // Commands that arrive together share one connection attempt.
        let pending = opening.get(key);
        if (!pending) {
          pending = open(endpoint, policy, signal).finally(() => opening.delete(key));
          opening.set(key, pending);
        }
        pooled = await pending;
      } else if (!policy.allows(pooled.address)) {
        throw new EndpointRejectedError(
          `endpoint host ${endpoint.host} is outside MACHINE_NETWORKS (${policy.networks.join(', ')})`,
          NOT_ALLOWED_REASON,
        );
      }
      const lent = pooled;
      lent.users++;
      let released = false;
      return {
        session: lent.connection.session,
        get broken() {
          return lent.connection.broken;
        },
        onBroken: (listener) => lent.connection.onBroken(listener),
        nodes(device) {
          const cacheKey = device ?? '';
          let nodes = lent.nodes.get(cacheKey);
          if (!nodes) {
            nodes = findMachineNodes(lent.connection.session, device);
            // A failed lookup (a lost connection, or a node added since) is tried again next time.
            nodes.catch(() => lent.nodes.delete(cacheKey));
            lent.nodes.set(cacheKey, nodes);
          }
          return nodes;
        },
        release() {
          if (released) return;
          released = true;
          lent.users--;
          lent.lastUsed = Date.now();
        },
      };
    },
    async closeAll() {
      closed = true;
      clearInterval(sweep);
      const all = [...pool.values()];
      pool.clear();
      await Promise.allSettled(all.map((pooled) => pooled.connection.close()));
      await (await certificates?.catch(() => undefined))?.dispose();
    },
  };
}

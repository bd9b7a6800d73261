import { createServer, type Server, type Socket, connect as connectTcp } from 'node:net';
import { freePort } from './wait-for';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  /** Drops every connection and refuses new ones (the port stops listening), like a server that went away. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy of the test's own in front of a shared server (e.g. Postgres), so a test can make it
 * refuse connections without touching the server itself.
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;

  function listen(): Promise<void> {
    const next = createServer((client) => {
      const upstream = connectTcp(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server = next;
    return new Promise((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
  }

  async function cut(): Promise<void> {
    const current = server;
    server = undefined;
    const closed = current ? new Promise((resolve) => current.close(resolve)) : Promise.resolve();
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  await listen();
  return {
    port,
    urlFor(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut,
    async restore() {
      if (!server) await listen();
    },
    close: cut,
  };
}

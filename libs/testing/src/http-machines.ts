import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One command as a test machine received it. */
export interface ReceivedCommand {
  /** The machine: the endpoint's path, e.g. `/m/7`. */
  machine: string;
  command: string;
  requestId: string | undefined;
  at: number;
}

export interface HttpMachines {
  /**
   * The endpoint of a machine speaking the older system's protocol. It answers `{"result": result}`
   * after `delayMs` (result 1 success, 2 failed), or never (`never: true`, the connection stays
   * open until the worker gives up).
   */
  endpoint(name: string, behaviour?: { delayMs?: number; result?: 1 | 2; never?: boolean }): string;
  /** Every command received so far, in arrival order. */
  received: ReceivedCommand[];
  /** Commands this machine received. */
  count(name: string): number;
  /** Called for each command as it arrives (before any answer). */
  onReceive(listener: (command: ReceivedCommand) => void): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
  });
}

/**
 * HTTP test machines on one local server, each a path of its own, counting every command they
 * receive: the machine's side of "sent once".
 */
export async function startHttpMachines(): Promise<HttpMachines> {
  const received: ReceivedCommand[] = [];
  const listeners: ((command: ReceivedCommand) => void)[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://machine');
    const body = new URLSearchParams(await readBody(req));
    const entry: ReceivedCommand = {
      machine: url.pathname,
      command: body.get('command') ?? '',
      requestId: req.headers['x-request-id'] as string | undefined,
      at: Date.now(),
    };
    received.push(entry);
    for (const listener of listeners) listener(entry);
    if (url.searchParams.get('never') === '1') {
      open.add(res);
      res.on('close', () => open.delete(res));
      return;
    }
    const delay = Number(url.searchParams.get('delay_ms') ?? 0);
    const result = Number(url.searchParams.get('result') ?? 1);
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result }));
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint(name, behaviour = {}) {
      const query = new URLSearchParams();
      if (behaviour.delayMs) query.set('delay_ms', String(behaviour.delayMs));
      if (behaviour.result) query.set('result', String(behaviour.result));
      if (behaviour.never) query.set('never', '1');
      const search = query.size > 0 ? `?${query}` : '';
      return `http://127.0.0.1:${port}/m/${name}${search}`;
    },
    received,
    count: (name) => received.filter((r) => r.machine === `/m/${name}`).length,
    onReceive: (listener) => listeners.push(listener),
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

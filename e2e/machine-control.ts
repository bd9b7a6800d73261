import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { waitFor } from '@imm/testing';
import pg from 'pg';
import type { apiClient } from './client';

type Api = ReturnType<typeof apiClient>;

const FINAL = new Set([1, 2, 3]);

/** Creates a machine and returns its id. */
export async function createMachine(api: Api, token: string, body: Record<string, unknown> = {}): Promise<number> {
  const response = await api.call('POST', '/api/machines/', {
    token,
    body: { name: `press-${Math.random().toString(36).slice(2, 8)}`, location: 'hall A', ...body },
  });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.result.id;
}

export function sendCommand(
  api: Api,
  token: string,
  machineId: number,
  command: string,
  headers?: Record<string, string>,
) {
  return api.call('POST', `/api/machines/${machineId}/operation/`, { token, body: { command }, headers });
}

/** Polls a history entry until its result is final, and returns it. */
export function waitForFinal(api: Api, token: string, location: string, timeoutMs = 60_000, intervalMs = 100) {
  return waitFor(
    async () => {
      const response = await api.call('GET', location, { token });
      return response.status === 200 && FINAL.has(response.body.result.result) ? response.body.result : undefined;
    },
    { timeoutMs, intervalMs },
  );
}

/** Polls a machine until its status is `status`. */
export function waitForStatus(api: Api, token: string, machineId: number, status: number, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const response = await api.call('GET', `/api/machines/${machineId}/`, { token });
      return response.body?.result?.status === status ? response.body.result : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** How many "operation completed" events the operations service ever wrote for one command. */
export async function completionsRecorded(databaseUrl: string, operationId: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select count(*)::int as n from operations.outbox_message
        where type = 'operations.operation.completed' and (payload->'data'->>'operation_id')::int = $1`,
      [operationId],
    );
    return rows[0].n;
  } finally {
    await client.end();
  }
}

export interface RemoteMachine {
  url: string;
  /** Commands received so far, in order. */
  received: string[];
  /** Resolves when the next command arrives; its answer waits until `release` is called. */
  nextHeld(): Promise<{ command: string; release(reply: { status?: number; body?: string }): void }>;
  close(): Promise<void>;
}

/**
 * A machine speaking the older system's HTTP protocol (form `command=START|STOP`, JSON
 * `{"result": 1|2}`), whose answers the test controls. By default it answers with `reply`; after
 * `nextHeld()` the next command is held until the test releases it.
 */
export async function startRemoteMachine(
  reply: { status?: number; body?: string } = { body: '{"result": 1}' },
): Promise<RemoteMachine> {
  const received: string[] = [];
  let holder:
    | ((held: { command: string; release: (r: { status?: number; body?: string }) => void }) => void)
    | undefined;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const command = new URLSearchParams(body).get('command') ?? '';
      received.push(command);
      const answer = (r: { status?: number; body?: string }) => {
        // No body: a machine that never answers.
        if (r.body === undefined || res.writableEnded || res.destroyed) return;
        res.writeHead(r.status ?? 200, { 'Content-Type': 'application/json' }).end(r.body);
      };
      if (holder) {
        const take = holder;
        holder = undefined;
        take({ command, release: answer });
      } else {
        answer(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/machine`,
    received,
    nextHeld: () =>
      new Promise((resolve) => {
        holder = resolve;
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

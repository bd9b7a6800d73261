import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type Bus, connectBus, serveRequests, startConsumer } from '@imm/bus';
import type { EventEnvelope, EventData, MachineStatusValue } from '@imm/contracts';
import { createLogger } from '@imm/logging';
import {
  dropRedisKeys,
  dropStreams,
  dropTestDatabase,
  freePort,
  query,
  testInfrastructure,
  waitFor,
} from '@imm/testing';
import { Redis } from 'ioredis';
import { type ApiConfig, loadApiConfig, loadWorkerConfig, type WorkerConfig } from '../src/config';
import { type RunningOperationsApi, startOperationsApi } from '../src/main';
import { type RunningOperationsWorker, startOperationsWorker } from '../src/worker';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const silent = createLogger('operations-test', process.env.TEST_LOG_LEVEL ?? 'silent');

// ---- tokens ----------------------------------------------------------------------------------

/** An ES256 key of the test's own, published as a JWKS by a tiny HTTP server (AUTH_JWKS_URL). */
export interface TestIssuer {
  jwksUrl: string;
  token(user: { id: number; superuser?: boolean; type?: 'access' | 'refresh'; expiresIn?: number }): string;
  close(): Promise<void>;
}

const b64 = (value: object | Buffer) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

export async function startIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  const port = await listenOn(server);
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    token: ({ id, superuser = false, type = 'access', expiresIn = 600 }) =>
      signEs256(privateKey, kid, {
        token_type: type,
        exp: Math.floor(Date.now() / 1000) + expiresIn,
        iat: Math.floor(Date.now() / 1000),
        jti: randomUUID(),
        user_id: id,
        username: `user${id}`,
        is_staff: superuser,
        is_superuser: superuser,
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function signEs256(key: KeyObject, kid: string, claims: object): string {
  const input = `${b64({ alg: 'ES256', typ: 'JWT', kid })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(signature)}`;
}

export function listenOn(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

// ---- the machines service, as far as operations sees it --------------------------------------

export interface StandInMachine {
  id: number;
  owner_id: number;
  status: MachineStatusValue;
  endpoint: string | null;
  last_operation_id: number | null;
}

type Completion = EventEnvelope<EventData<'operations.operation.completed'>>;

/**
 * Answers `machines.machine.get` from a map the test controls and, like the machines service,
 * turns completion events into machine status. Records every completion event it receives.
 */
export interface MachinesStandIn {
  bus: Bus;
  machines: Map<number, StandInMachine>;
  completions: Completion[];
  requested: EventEnvelope<EventData<'operations.operation.requested'>>[];
  add(machine: Partial<StandInMachine> & { id: number; owner_id: number }): StandInMachine;
  /** Stop answering (the machines service is down) or answer again. */
  setAnswering(answering: boolean): void;
  stop(): Promise<void>;
}

export async function startMachinesStandIn(natsUrl: string, prefix: string): Promise<MachinesStandIn> {
  const bus = await connectBus({ url: natsUrl, prefix, name: 'machines-stand-in', logger: silent });
  const machines = new Map<number, StandInMachine>();
  const completions: Completion[] = [];
  const requested: MachinesStandIn['requested'] = [];
  let answering = true;
  // Requests held while not answering; released (too late for the asker) when answering again.
  const held: (() => void)[] = [];
  const release = () => {
    for (const resume of held.splice(0)) resume();
  };
  const server = serveRequests(bus, 'machines.machine.get', async ({ machine_id }) => {
    if (!answering) await new Promise<void>((resolve) => held.push(resolve));
    const machine = machines.get(machine_id);
    return machine ? { found: true, machine: { ...machine } } : { found: false };
  });
  const consumer = startConsumer(bus, {
    durable: 'stand-in-completed',
    types: ['operations.operation.completed'],
    handle: async (event) => {
      completions.push(event);
      const data = event.data;
      const machine = machines.get(data.machine_id);
      if (!machine) return;
      const status = data.result === 1 ? (data.command === 'START' ? 4 : 2) : data.result === 2 ? 5 : undefined;
      if (status !== undefined) machine.status = status;
      machine.last_operation_id = Math.max(machine.last_operation_id ?? 0, data.operation_id);
    },
  });
  const requestedConsumer = startConsumer(bus, {
    durable: 'stand-in-requested',
    types: ['operations.operation.requested'],
    handle: async (event) => {
      requested.push(event);
    },
  });
  return {
    bus,
    machines,
    completions,
    requested,
    add(machine) {
      const full: StandInMachine = { status: 2, endpoint: null, last_operation_id: null, ...machine };
      machines.set(full.id, full);
      return full;
    },
    setAnswering(value) {
      answering = value;
      if (value) release();
    },
    async stop() {
      release();
      await consumer.stop();
      await requestedConsumer.stop();
      await server.stop();
      await bus.close();
    },
  };
}

// ---- the service under test ------------------------------------------------------------------

export interface TestEnv {
  DATABASE_URL: string;
  BUS_PREFIX: string;
  REDIS_PREFIX: string;
  NATS_URL: string;
  REDIS_URL: string;
  AUTH_JWKS_URL: string;
}

/** Settings of the service under test: fast timings so failures show in seconds, not minutes. */
export function serviceEnv(base: TestEnv, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...base,
    MODE: 'DEV',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    SIM_LATENCY_MS: '20',
    DRIVER_TIMEOUT_MS: '10000',
    DRIVER_ATTEMPTS: '3',
    DRIVER_BACKOFF_MS: '50',
    SWEEP_INTERVAL_MS: '500',
    JOB_LOCK_MS: '2000',
    WORKER_SHUTDOWN_MS: '5000',
    MACHINES_REQUEST_TIMEOUT_MS: '1000',
    ...overrides,
  };
}

export function apiConfig(env: Record<string, string>): ApiConfig {
  return loadApiConfig(env);
}

export function workerConfig(env: Record<string, string>): WorkerConfig {
  return loadWorkerConfig(env);
}

export async function startApi(env: Record<string, string>): Promise<RunningOperationsApi> {
  return startOperationsApi(apiConfig(env), silent);
}

export async function startWorker(env: Record<string, string>): Promise<RunningOperationsWorker> {
  return startOperationsWorker(workerConfig(env), silent);
}

/** The worker as its own process, as `npm start` runs it, for tests that kill it. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves once the health server answers /readyz with 200. */
  ready(): Promise<void>;
}

export async function spawnWorker(
  env: Record<string, string>,
  options: { nodeArguments?: string[]; ipc?: boolean } = {},
): Promise<WorkerProcess> {
  const port = await freePort();
  // `node --import tsx` is one process: SIGKILL reaches the worker itself, not a wrapper around it.
  const nodeArguments = options.nodeArguments ?? ['--import', 'tsx', 'services/operations/src/worker.ts'];
  const child = spawn(process.execPath, nodeArguments, {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async ready() {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`worker exited: ${output.slice(-4000)}`);
          const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return response?.status === 200;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    },
  };
}

// ---- HTTP ------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read replies loosely and assert on them
  body: any;
  headers: Headers;
}

export function client(baseUrl: string) {
  return async function call(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: response.status, body, headers: response.headers };
  };
}

// ---- inspection and cleanup ------------------------------------------------------------------

/** Deletes what a test left in the shared servers: its database, streams and Redis keys. */
export async function cleanUp(env: TestEnv): Promise<void> {
  await dropTestDatabase(env.DATABASE_URL).catch(() => {});
  await dropRedisKeys(env.REDIS_URL, env.REDIS_PREFIX);
  await dropStreams(env.NATS_URL, env.BUS_PREFIX);
}

export function baseEnv(tag: string, jwksUrl: string, overrides: Partial<TestEnv> = {}): TestEnv {
  return {
    ...testInfrastructure(tag),
    NATS_URL: 'nats://127.0.0.1:4222',
    REDIS_URL: 'redis://127.0.0.1:6379',
    AUTH_JWKS_URL: jwksUrl,
    ...overrides,
  };
}

// ---- a whole stack -----------------------------------------------------------------------------

export interface Stack {
  env: TestEnv;
  settings: Record<string, string>;
  issuer: TestIssuer;
  standIn: MachinesStandIn;
  api: RunningOperationsApi;
  /** The in-process worker, when one was asked for. */
  worker?: RunningOperationsWorker;
  call: ReturnType<typeof client>;
  /** POSTs a command as the machine's owner (user 1 unless told otherwise). */
  operate(
    machineId: number,
    command: string,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  /** The entry's row, straight from the database. */
  entry(
    id: number,
  ): Promise<{ id: number; result: number; message: string | null; finished_at: Date | null } | undefined>;
  /** Completion events for this operation that reached NATS (and the stand-in). */
  completions(operationId: number): number;
  /** Outbox rows of completion events for this operation. */
  recordedCompletions(operationId: number): Promise<number>;
  ownerToken: string;
  stop(): Promise<void>;
}

/**
 * Issuer, stand-in machines service, API and (optionally) an in-process worker on a database,
 * stream prefix and Redis prefix of the test's own.
 */
export async function startStack(
  tag: string,
  options: { infra?: Partial<TestEnv>; settings?: Record<string, string>; worker?: boolean } = {},
): Promise<Stack> {
  const issuer = await startIssuer();
  const env = baseEnv(tag, issuer.jwksUrl, options.infra);
  const standIn = await startMachinesStandIn(env.NATS_URL, env.BUS_PREFIX);
  const settings = serviceEnv(env, options.settings);
  const api = await startApi(settings);
  const worker = options.worker === false ? undefined : await startWorker(settings);
  const call = client(`http://127.0.0.1:${api.port}`);
  const ownerToken = issuer.token({ id: 1 });
  return {
    env,
    settings,
    issuer,
    standIn,
    api,
    worker,
    call,
    ownerToken,
    operate: (machineId, command, opts = {}) =>
      call('POST', `/api/machines/${machineId}/operation/`, {
        token: opts.token ?? ownerToken,
        body: { command },
        headers: opts.headers,
      }),
    async entry(id) {
      const [row] = await query<{ id: number; result: number; message: string | null; finished_at: Date | null }>(
        env.DATABASE_URL,
        'select id, result, message, finished_at from operations.operation where id = $1',
        [id],
      );
      return row;
    },
    completions: (operationId) => standIn.completions.filter((e) => e.data.operation_id === operationId).length,
    async recordedCompletions(operationId) {
      const [row] = await query<{ n: number }>(
        env.DATABASE_URL,
        `select count(*)::int as n from operations.outbox_message
         where type = 'operations.operation.completed' and (payload->'data'->>'operation_id')::int = $1`,
        [operationId],
      );
      return row?.n ?? 0;
    },
    async stop() {
      await worker?.stop();
      await api.stop();
      await standIn.stop();
      await issuer.close();
      await cleanUp(env);
    },
  };
}

/** Jobs BullMQ holds as active (being processed) in this Redis prefix. */
export async function activeJobs(redisUrl: string, prefix: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return await redis.lrange(`${prefix}:operations:active`, 0, -1);
  } finally {
    redis.disconnect();
  }
}

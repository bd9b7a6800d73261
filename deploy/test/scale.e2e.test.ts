import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  dropRedisKeys,
  dropStreams,
  dropTestDatabase,
  freePort,
  type ProcessName,
  query,
  type RunningProcess,
  spawnProcess,
  testInfrastructure,
  waitFor,
} from '@imm/testing';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../scripts/build-dist';

/**
 * Several replicas of everything, without Docker: 2 gateways, 2 machines services, 2 operations
 * APIs and 3 workers, run from the production build as separate processes on one Postgres, Redis
 * and NATS (this run's own database and prefixes), all started at once on an empty database. A
 * mixed load goes through both gateways; then every command was driven and ended exactly once,
 * every event was applied once, each schema was migrated by one process, and the rate limit and
 * signed-out tokens held across the gateways.
 */
const NATS_URL = 'nats://127.0.0.1:4222';
const REDIS_URL = 'redis://127.0.0.1:6379';
const USERS = 6;
const MACHINES_PER_USER = 2;
const SEQUENCE = ['START', 'STOP', 'START', 'STOP'] as const;
const RATE_LIMIT = 400;
const RUNNING = 4;
const READY = 2;

const infrastructure = testInfrastructure('scale');
const started: { name: string; process: RunningProcess; exited?: number | null }[] = [];
let simulator: MachineSimulator;
let gateways: string[] = [];

beforeAll(async () => {
  await buildDist();
  simulator = await startMachineSimulator(100);
  // Asked for all at once, so the OS hands out distinct ones.
  const free = (await Promise.all(Array.from({ length: 10 }, () => freePort()))).map(String);
  expect(new Set(free).size).toBe(free.length);
  const [auth, m1, m2, o1, o2, w1, w2, w3, g1, g2] = free as [string, ...string[]];
  const ports = {
    auth,
    machines: [m1, m2] as string[],
    operations: [o1, o2] as string[],
    workers: [w1, w2, w3] as string[],
    gateways: [g1, g2] as string[],
  };
  const local = (p: string) => `http://127.0.0.1:${p}`;
  const common = {
    ...infrastructure,
    NATS_URL,
    REDIS_URL,
    MODE: 'DEV',
    LOG_LEVEL: 'info',
    BCRYPT_ROUNDS: '10',
    AUTH_JWKS_URL: `${local(ports.auth)}/api/auth/jwks.json`,
  };
  const start = (name: ProcessName, label: string, env: Record<string, string>) => {
    const entry: (typeof started)[number] = {
      name: label,
      process: spawnProcess(name, { ...common, ...env }, { compiled: true }),
    };
    void entry.process.exited.then((code) => {
      entry.exited = code;
    });
    started.push(entry);
  };

  // All at once, on a database that does not exist yet: the replicas race to create and migrate it.
  start('auth', 'auth', { PORT: ports.auth });
  for (const [i, p] of ports.machines.entries()) start('machines', `machines-${i + 1}`, { PORT: p });
  for (const [i, p] of ports.operations.entries()) start('operations', `operations-${i + 1}`, { PORT: p });
  for (const [i, p] of ports.workers.entries()) {
    start('worker', `worker-${i + 1}`, { PORT: p, WORKER_CONCURRENCY: '2', SWEEP_INTERVAL_MS: '1000' });
  }
  // Each gateway proxies to its own machines and operations replica; both share auth and Redis.
  for (const [i, p] of ports.gateways.entries()) {
    start('gateway', `gateway-${i + 1}`, {
      PORT: p,
      AUTH_URL: local(ports.auth),
      MACHINES_URL: local(ports.machines[i] as string),
      OPERATIONS_URL: local(ports.operations[i] as string),
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      // The test client stands for a proxy in front: its X-Forwarded-For names the client.
      TRUST_PROXY: 'loopback',
      TRUSTED_PROXIES: '127.0.0.0/8,::1/128',
    });
  }
  gateways = ports.gateways.map(local);

  const everyPort = [ports.auth, ...ports.machines, ...ports.operations, ...ports.workers, ...ports.gateways];
  try {
    await waitFor(
      async () => {
        const exited = started.find((s) => s.exited !== undefined);
        if (exited) throw new Error(`${exited.name} exited:\n${exited.process.output().slice(-3000)}`);
        const ready = await Promise.all(
          everyPort.map((p) =>
            fetch(`${local(p)}/readyz`).then(
              (r) => r.status === 200,
              () => false,
            ),
          ),
        );
        return ready.every(Boolean);
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n${started.map((s) => `--- ${s.name}\n${s.process.output().slice(-1500)}`).join('\n')}`,
    );
  }
}, 150_000);

afterAll(async () => {
  await Promise.all(started.map((s) => s.process.kill('SIGTERM')));
  await simulator?.close();
  await dropTestDatabase(infrastructure.DATABASE_URL).catch(() => {});
  await dropStreams(NATS_URL, infrastructure.BUS_PREFIX);
  await dropRedisKeys(REDIS_URL, infrastructure.REDIS_PREFIX);
}, 60_000);

describe('two of every process, three workers', () => {
  const accepted: { id: number; machineId: number; command: string }[] = [];
  const machinePaths = new Map<number, string>();

  it('serves a mixed load through both gateways', async () => {
    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const client = clientAs(`10.50.0.${u + 1}`);
        const user = await client.signUp(gateways[u % 2] as string, `scale${u}`);
        for (let m = 0; m < MACHINES_PER_USER; m += 1) {
          const path = `/m-${u}-${m}`;
          const created = await client.call(gateways[(u + m) % 2] as string, 'POST', '/api/machines/', user, {
            name: `press-${u}-${m}`,
            location: 'hall S',
            endpoint: `${simulator.url}${path}`,
          });
          expect(created.status).toBe(201);
          machinePaths.set(created.body.result.id, path);
        }
        await Promise.all(
          [...machinePaths.entries()]
            .filter(([, path]) => path.startsWith(`/m-${u}-`))
            .map(([machineId]) => runSequence(client, user, machineId, accepted)),
        );
        // A read through each gateway sees every machine of this user.
        for (const gateway of gateways) {
          const page = await client.call(gateway, 'GET', `/api/machines/?owner_id=${user.id}`, user);
          expect(page.body.result.count).toBe(MACHINES_PER_USER);
        }
      }),
    );
    expect(accepted).toHaveLength(USERS * MACHINES_PER_USER * SEQUENCE.length);
  });

  it('drove every accepted command exactly once, and recorded each one finished once', async () => {
    for (const [, path] of machinePaths) expect(simulator.received(path), path).toEqual([...SEQUENCE]);
    const rows = await query<{ id: number; result: number; finished: boolean }>(
      infrastructure.DATABASE_URL,
      'select id, result, finished_at is not null as finished from operations.operation order by id',
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const command of accepted)
      expect(byId.get(command.id), String(command.id)).toMatchObject({ result: 1, finished: true });
    // Besides the accepted ones only the refused STOPs (one per machine), never a second copy.
    expect(rows).toHaveLength(accepted.length + machinePaths.size);
    const completions = await query<{ id: number; n: number }>(
      infrastructure.DATABASE_URL,
      `select (payload->'data'->>'operation_id')::int as id, count(*)::int as n from operations.outbox_message
        where type = 'operations.operation.completed' group by 1`,
    );
    expect(completions).toHaveLength(accepted.length);
    expect(completions.every((c) => c.n === 1)).toBe(true);

    // The three workers shared the queue: together they finished each command once.
    const finishedBy = started
      .filter((s) => s.name.startsWith('worker-'))
      .map(
        (s) =>
          s.process
            .output()
            .split('\n')
            .filter((line) => line.includes('"msg":"command finished"')).length,
      );
    expect(finishedBy.reduce((a, b) => a + b, 0)).toBe(accepted.length);
    expect(finishedBy.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('published every event once and applied each one once, with two consumers sharing a durable consumer', async () => {
    const prefix = infrastructure.BUS_PREFIX;
    const nats = await connect({ servers: NATS_URL });
    try {
      const jsm = await nats.jetstreamManager();
      const subjects = async (stream: string) =>
        (await jsm.streams.info(stream, { subjects_filter: '>' })).state.subjects ?? {};
      // Five relays (two APIs, three workers) share one outbox; JetStream saw each event once.
      const operations = await subjects(`${prefix.toUpperCase()}_OPERATIONS`);
      expect(operations[`${prefix}.operations.operation.requested`]).toBe(accepted.length);
      expect(operations[`${prefix}.operations.operation.completed`]).toBe(accepted.length);
      const machines = await subjects(`${prefix.toUpperCase()}_MACHINES`);
      expect(machines[`${prefix}.machines.machine.created`]).toBe(machinePaths.size);
      expect(machines[`${prefix}.machines.machine.status_changed`]).toBe(accepted.length);
    } finally {
      await nats.close();
    }
    const applied = await query<{ n: number }>(
      infrastructure.DATABASE_URL,
      `select count(*)::int as n from machines.processed_event where consumer = 'machines-operation-completed'`,
    );
    expect(applied[0]?.n).toBe(accepted.length);
    const statusChanges = await query<{ n: number }>(
      infrastructure.DATABASE_URL,
      `select count(*)::int as n from machines.outbox_message where type = 'machines.machine.status_changed'`,
    );
    expect(statusChanges[0]?.n).toBe(accepted.length);
    const statuses = await query<{ status: number }>(
      infrastructure.DATABASE_URL,
      'select status from machines.machine',
    );
    expect(statuses.map((s) => s.status)).toEqual(Array(machinePaths.size).fill(READY));
  });

  it('migrated each schema once, under the lock, though its replicas started together', async () => {
    for (const [schema, replicas] of [
      ['auth', ['auth']],
      ['machines', ['machines-1', 'machines-2']],
      ['operations', ['operations-1', 'operations-2', 'worker-1', 'worker-2', 'worker-3']],
    ] as const) {
      const migrators = started.filter(
        (s) =>
          (replicas as readonly string[]).includes(s.name) &&
          s.process
            .output()
            .split('\n')
            .some((line) => line.includes('"msg":"migrations applied"') && line.includes(`"schema":"${schema}"`)),
      );
      expect(
        migrators.map((s) => s.name),
        schema,
      ).toHaveLength(1);
      const rows = await query<{ n: number; distinct: number }>(
        infrastructure.DATABASE_URL,
        `select count(*)::int as n, count(distinct name)::int as distinct from ${schema}.mikro_orm_migrations`,
      );
      expect(rows[0]?.n, schema).toBeGreaterThan(0);
      expect(rows[0]?.n, schema).toBe(rows[0]?.distinct);
    }
  });

  it('holds one client to one rate limit across both gateways (counted in Redis)', async () => {
    const client = clientAs('10.99.0.1');
    const extra = 20;
    const statuses = await Promise.all(
      Array.from({ length: RATE_LIMIT + extra }, (_, i) =>
        client.call(gateways[i % 2] as string, 'GET', '/api/me/').then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 429)).toHaveLength(extra);
    // Another client, through either gateway, is counted on its own.
    expect((await clientAs('10.99.0.2').call(gateways[1] as string, 'GET', '/api/me/')).status).toBe(401);
  });

  it('refuses through one gateway a refresh token signed out through the other', async () => {
    const client = clientAs('10.99.0.3');
    const [one, other] = gateways as [string, string];
    const user = await client.signUp(one, 'scale_signout');
    const rotated = await client.call(other, 'POST', '/api/token/refresh/', undefined, { refresh: user.refresh });
    expect(rotated.status).toBe(200);
    const current = { ...user, access: rotated.body.result.access, refresh: rotated.body.result.refresh };
    expect((await client.call(one, 'POST', '/api/sign-out/', current, { refresh: current.refresh })).status).toBe(200);
    expect(
      (await client.call(other, 'POST', '/api/token/refresh/', undefined, { refresh: current.refresh })).status,
    ).toBe(401);
    // The rotated-away token is refused as well, through either gateway.
    expect((await client.call(one, 'POST', '/api/token/refresh/', undefined, { refresh: user.refresh })).status).toBe(
      401,
    );
  });
});

interface User {
  id: number;
  access: string;
  refresh: string;
}

/** A client behind a proxy: every request says, through X-Forwarded-For, which address it is. */
function clientAs(address: string) {
  async function call(gateway: string, method: string, path: string, user?: User, body?: unknown, headers = {}) {
    const response = await fetch(`${gateway}${path}`, {
      method,
      headers: {
        'X-Forwarded-For': address,
        ...(user && { Authorization: `Bearer ${user.access}` }),
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
  async function signUp(gateway: string, username: string): Promise<User> {
    const response = await call(gateway, 'POST', '/api/sign-up/', undefined, {
      username,
      email: `${username}@example.com`,
      password: `molding-${username}`,
      first_name: 'Scale',
      last_name: 'Test',
    });
    if (response.status !== 201) throw new Error(`sign-up: ${response.status} ${JSON.stringify(response.body)}`);
    const { user, token } = response.body.result;
    return { id: user.id, access: token.access, refresh: token.refresh };
  }
  return { call, signUp };
}

/**
 * One machine's life through alternating gateways: a refused STOP first, then START, STOP, START,
 * STOP, each retried once through the other gateway with its Idempotency-Key (which must give the
 * same entry, not a second command), waited for, and its effect on the machine's status seen.
 */
async function runSequence(
  client: ReturnType<typeof clientAs>,
  user: User,
  machineId: number,
  accepted: { id: number; machineId: number; command: string }[],
) {
  const refused = await client.call(gateways[0] as string, 'POST', `/api/machines/${machineId}/operation/`, user, {
    command: 'STOP',
  });
  expect(refused.status).toBe(409);
  for (const [step, command] of SEQUENCE.entries()) {
    const [first, other] = [gateways[step % 2] as string, gateways[(step + 1) % 2] as string];
    const key = { 'Idempotency-Key': `scale-${machineId}-${step}` };
    const path = `/api/machines/${machineId}/operation/`;
    const response = await client.call(first, 'POST', path, user, { command }, key);
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    const retried = await client.call(other, 'POST', path, user, { command }, key);
    expect(retried.body.result.id).toBe(response.body.result.id);
    accepted.push({ id: response.body.result.id, machineId, command });
    const location = response.headers.get('location') as string;
    await waitFor(
      async () => {
        const entry = await client.call(other, 'GET', location, user);
        return entry.body?.result?.result === 1;
      },
      { timeoutMs: 30_000, intervalMs: 150 },
    );
    const wanted = command === 'START' ? RUNNING : READY;
    await waitFor(
      async () =>
        (await client.call(first, 'GET', `/api/machines/${machineId}/`, user)).body?.result?.status === wanted,
      { timeoutMs: 30_000, intervalMs: 150 },
    );
  }
}

interface MachineSimulator {
  url: string;
  /** The commands a machine (by its endpoint's path) received, in order. */
  received(path: string): string[];
  close(): Promise<void>;
}

/** Machines speaking the older system's HTTP protocol, each on its own path, answering "done". */
async function startMachineSimulator(latencyMs: number): Promise<MachineSimulator> {
  const commands = new Map<string, string[]>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      commands.set(path, [...(commands.get(path) ?? []), new URLSearchParams(body).get('command') ?? '']);
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"result": 1}'), latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: (path) => commands.get(path) ?? [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

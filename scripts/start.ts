/**
 * `npm start`: every process of the system on this machine, with no configuration. Each service
 * creates the database if missing and applies its own migrations at start (auth also seeds the
 * admin), so this script only supervises: it prefixes each process's lines with its name and stops
 * them all on Ctrl-C, SIGTERM, or when any one of them exits.
 */
import { fileURLToPath } from 'node:url';
import { concurrently } from 'concurrently';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;

const ports = {
  gateway: env.GATEWAY_PORT ?? '8000',
  auth: env.AUTH_PORT ?? '8001',
  machines: env.MACHINES_PORT ?? '8002',
  operations: env.OPERATIONS_PORT ?? '8003',
  worker: env.WORKER_PORT ?? '8004',
};
const local = (port: string) => `http://127.0.0.1:${port}`;

// Every process sees the same settings; only its own port and the addresses of the others differ.
const shared = {
  AUTH_URL: env.AUTH_URL ?? local(ports.auth),
  MACHINES_URL: env.MACHINES_URL ?? local(ports.machines),
  OPERATIONS_URL: env.OPERATIONS_URL ?? local(ports.operations),
  AUTH_JWKS_URL: env.AUTH_JWKS_URL ?? `${local(ports.auth)}/api/auth/jwks.json`,
  // Readable lines for a person at a terminal, JSON lines for whatever collects them otherwise.
  LOG_FORMAT: env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
};

// `node --import tsx` runs the TypeScript sources directly, without relying on PATH; the telemetry
// preload starts tracing before the process's modules load (it loads nothing when tracing is off).
const run = (entry: string) => `"${process.execPath}" --import tsx --import @imm/telemetry/register ${entry}`;

const all = [
  { name: 'auth', command: run('services/auth/src/main.ts'), port: ports.auth },
  { name: 'machines', command: run('services/machines/src/main.ts'), port: ports.machines },
  { name: 'operations', command: run('services/operations/src/main.ts'), port: ports.operations },
  { name: 'worker', command: run('services/operations/src/worker.ts'), port: ports.worker },
  { name: 'gateway', command: run('gateway/src/main.ts'), port: ports.gateway },
];

// `PROCESSES=auth,gateway` runs only those (to scale or restart one kind on its own).
const wanted = env.PROCESSES?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = wanted?.filter((name) => !all.some((p) => p.name === name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `PROCESSES: unknown process ${unknown.join(', ')} (known: ${all.map((p) => p.name).join(', ')})\n`,
  );
  process.exit(78);
}
const processes = wanted ? all.filter((p) => wanted.includes(p.name)) : all;

const { result } = concurrently(
  processes.map(({ name, command, port }) => ({
    name,
    command,
    cwd: root,
    env: { ...shared, PORT: port },
  })),
  {
    prefix: 'name',
    padPrefix: true,
    killOthersOn: ['failure', 'success'],
    killTimeout: 15_000,
    handleInput: false,
  },
);

result.then(
  () => process.exit(0),
  () => process.exit(1),
);

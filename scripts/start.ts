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
};

// `node --import tsx` runs the TypeScript sources directly, without relying on PATH.
const run = (entry: string) => `"${process.execPath}" --import tsx ${entry}`;

const processes = [
  { name: 'auth', command: run('services/auth/src/main.ts'), port: ports.auth },
  { name: 'machines', command: run('services/machines/src/main.ts'), port: ports.machines },
  { name: 'operations', command: run('services/operations/src/main.ts'), port: ports.operations },
  { name: 'worker', command: run('services/operations/src/worker.ts'), port: ports.worker },
  { name: 'gateway', command: run('gateway/src/main.ts'), port: ports.gateway },
];

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

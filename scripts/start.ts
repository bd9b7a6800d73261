/**
 * `npm start`: every process of the system on this machine, with no configuration. Each service
 * creates the database if missing and applies its own migrations at start (auth also seeds the
 * admin), so this script only supervises: it prefixes each process's lines with its name and stops
 * them all on Ctrl-C, SIGTERM, or when any one of them exits.
 *
 * `START_COMPILED=1` runs the production build (`npm run build:dist`) instead of the TypeScript
 * sources: the same JavaScript the container image runs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { concurrently } from 'concurrently';
import { nodeArgumentsOf, type ProcessName, processes, urlVariableOf } from '../processes';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;

const portOf = (name: ProcessName) => {
  const description = processes.find((p) => p.name === name);
  return description ? (env[description.portVariable] ?? String(description.defaultPort)) : '0';
};
const local = (name: ProcessName) => `http://127.0.0.1:${portOf(name)}`;

// Every process sees the same settings; only its own port and the addresses of the others differ.
const shared: Record<string, string> = {
  AUTH_JWKS_URL: env.AUTH_JWKS_URL ?? `${local('auth')}/api/auth/jwks.json`,
  // Readable lines for a person at a terminal, JSON lines for whatever collects them otherwise.
  LOG_FORMAT: env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
};
const called = processes.filter((p) => processes.some((caller) => caller.needs.processes.includes(p.name)));
for (const { name } of called) shared[urlVariableOf(name)] = env[urlVariableOf(name)] ?? local(name);

const compiled = env.START_COMPILED === '1' || env.START_COMPILED === 'true';
const missing = compiled ? processes.filter((p) => !existsSync(`${root}/${p.compiled}`)) : [];
if (missing.length > 0) {
  process.stderr.write(
    `START_COMPILED: ${missing.map((p) => p.compiled).join(', ')} missing; run npm run build:dist\n`,
  );
  process.exit(78);
}
// `node --import tsx` runs the TypeScript sources directly, without relying on PATH; the telemetry
// preload comes before the entry (it loads nothing when tracing is off).
const commandOf = (p: (typeof processes)[number]) => `"${process.execPath}" ${nodeArgumentsOf(p, compiled).join(' ')}`;

// `PROCESSES=auth,gateway` runs only those (to scale or restart one kind on its own).
const wanted = env.PROCESSES?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const unknown = wanted?.filter((name) => !processes.some((p) => p.name === name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `PROCESSES: unknown process ${unknown.join(', ')} (known: ${processes.map((p) => p.name).join(', ')})\n`,
  );
  process.exit(78);
}
const chosen = wanted ? processes.filter((p) => wanted.includes(p.name)) : processes;

const { result } = concurrently(
  chosen.map((p) => ({
    name: p.name,
    command: commandOf(p),
    cwd: root,
    env: { ...shared, PORT: portOf(p.name) },
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

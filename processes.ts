/**
 * The processes of imm-control, described once. `npm start` (scripts/start.ts), the end-to-end
 * harness (libs/testing), the production build (scripts/build-dist.ts) and the deployment tests
 * all read this list, so a new process or a moved port is a change in one place.
 */

/** A server the system runs on, not one of its own processes. */
export type Server = 'postgres' | 'redis' | 'nats';

export type ProcessName = 'auth' | 'machines' | 'operations' | 'worker' | 'gateway';

export interface ProcessDescription {
  name: ProcessName;
  /** What docker compose and Kubernetes call it (a service and a Deployment of that name). */
  deployName: string;
  /** The workspace package it belongs to, and that package's folder. */
  package: string;
  directory: string;
  /** The TypeScript entry file (run by `npm start` and the tests) and its compiled JavaScript. */
  entry: string;
  compiled: string;
  defaultPort: number;
  /** The variable `npm start` reads to move this process's port. */
  portVariable: string;
  /** The servers it connects to, and the processes it calls. */
  needs: { servers: Server[]; processes: ProcessName[] };
  /** Only the gateway takes requests from outside; every other port is internal. */
  public: boolean;
  /** Serves only /healthz and /readyz (and metrics), no API. */
  healthOnly: boolean;
}

/** `src/x.ts` of a package compiles to `dist/x.js` beside it, so paths relative to the file hold. */
const compiledOf = (entry: string) => entry.replace('/src/', '/dist/').replace(/\.ts$/, '.js');

const describe = (p: Omit<ProcessDescription, 'compiled'>): ProcessDescription => ({
  ...p,
  compiled: compiledOf(p.entry),
});

/** In start order: the gateway last, after the services it proxies to. */
export const processes: readonly ProcessDescription[] = [
  describe({
    name: 'auth',
    deployName: 'auth',
    package: '@imm/auth-service',
    directory: 'services/auth',
    entry: 'services/auth/src/main.ts',
    defaultPort: 8001,
    portVariable: 'AUTH_PORT',
    needs: { servers: ['postgres', 'redis', 'nats'], processes: [] },
    public: false,
    healthOnly: false,
  }),
  describe({
    name: 'machines',
    deployName: 'machines',
    package: '@imm/machines-service',
    directory: 'services/machines',
    entry: 'services/machines/src/main.ts',
    defaultPort: 8002,
    portVariable: 'MACHINES_PORT',
    needs: { servers: ['postgres', 'redis', 'nats'], processes: ['auth'] },
    public: false,
    healthOnly: false,
  }),
  describe({
    name: 'operations',
    deployName: 'operations',
    package: '@imm/operations-service',
    directory: 'services/operations',
    entry: 'services/operations/src/main.ts',
    defaultPort: 8003,
    portVariable: 'OPERATIONS_PORT',
    needs: { servers: ['postgres', 'redis', 'nats'], processes: ['auth', 'machines'] }, // machines answers over NATS
    public: false,
    healthOnly: false,
  }),
  describe({
    name: 'worker',
    deployName: 'operations-worker',
    package: '@imm/operations-service',
    directory: 'services/operations',
    entry: 'services/operations/src/worker.ts',
    defaultPort: 8004,
    portVariable: 'WORKER_PORT',
    needs: { servers: ['postgres', 'redis', 'nats'], processes: [] },
    public: false,
    healthOnly: true,
  }),
  describe({
    name: 'gateway',
    deployName: 'gateway',
    package: '@imm/gateway',
    directory: 'gateway',
    entry: 'gateway/src/main.ts',
    defaultPort: 8000,
    portVariable: 'GATEWAY_PORT',
    needs: { servers: ['redis'], processes: ['auth', 'machines', 'operations'] },
    public: true,
    healthOnly: false,
  }),
];

export const processNames: readonly ProcessName[] = processes.map((p) => p.name);

export function processNamed(name: ProcessName): ProcessDescription {
  const found = processes.find((p) => p.name === name);
  if (!found) throw new Error(`unknown process ${name}`);
  return found;
}

/** The variable through which a process finds another one (the gateway's `MACHINES_URL`). */
export const urlVariableOf = (name: ProcessName) => `${name.toUpperCase()}_URL`;

/**
 * The telemetry preload every process starts with: it starts tracing before the process's modules
 * load when an OTLP endpoint is configured, and loads nothing otherwise (libs/telemetry).
 */
export const telemetryPreload = {
  directory: 'libs/telemetry',
  entry: 'libs/telemetry/src/register.ts',
  compiled: 'libs/telemetry/dist/register.js',
};

/** node's arguments for a process: its TypeScript entry under tsx, or its production build. */
export function nodeArgumentsOf(p: ProcessDescription, compiled: boolean): string[] {
  return compiled
    ? ['--enable-source-maps', '--import', `./${telemetryPreload.compiled}`, p.compiled]
    : ['--import', 'tsx', '--import', '@imm/telemetry/register', p.entry];
}

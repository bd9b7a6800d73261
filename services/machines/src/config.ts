import { env, infrastructureShape, loadConfig } from '@imm/config';

/** The machines service's settings: the shared infrastructure plus its own port and tuning. */
export const machinesConfigShape = {
  ...infrastructureShape,
  /** HTTP port of this process. */
  PORT: env.port(8002),
  /** Most database connections this process opens. */
  DB_POOL_MAX: env.int(10, 1, 100),
  /** How often the outbox relay looks for events to publish when none were just recorded. */
  OUTBOX_INTERVAL_MS: env.int(1000, 50, 60_000),
  /** How long the consumer's de-duplication marks (`processed_event`) are kept, in hours. */
  PROCESSED_EVENT_RETENTION_HOURS: env.int(168, 1),
};

export type MachinesConfig = ReturnType<typeof loadMachinesConfig>;

export function loadMachinesConfig(source: NodeJS.ProcessEnv = process.env) {
  // DEV's localhost database is no default for a real deployment; the rest may stay local.
  return loadConfig(machinesConfigShape, { requiredInRelease: ['DATABASE_URL'], env: source });
}

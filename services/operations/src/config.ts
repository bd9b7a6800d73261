import { env, infrastructureShape, loadConfig } from '@imm/config';
import { z } from 'zod';
import { parseCidr } from './adapters/drivers/network-policy';

/** Settings both processes read: the API checks state and deadlines, the worker enforces them. */
const operationsShape = {
  ...infrastructureShape,
  /** A command still PENDING this long after it was accepted is ended as INTERNALFAILED. */
  OPERATION_DEADLINE_MS: env.int(120_000, 1_000),
  /** How long the API waits for the machines service to answer `machines.machine.get`. */
  MACHINES_REQUEST_TIMEOUT_MS: env.int(5_000, 100),
};

const apiShape = {
  ...operationsShape,
  PORT: env.port(8003),
  /** How long a POST waits for Redis to take the job before answering 202 anyway (the sweeper queues it). */
  QUEUE_ADD_TIMEOUT_MS: env.int(1_000, 50),
};

/** A comma-separated list of CIDR blocks (`10.20.0.0/16, fd00::/8`). */
const cidrList = env.list().superRefine((items, ctx) => {
  for (const item of items) {
    if (!parseCidr(item)) ctx.addIssue({ code: 'custom', message: `"${item}" is not a CIDR block like 10.0.0.0/8` });
  }
});

const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

/** OPC UA (EUROMAP 77) machines: the driver's and the status monitor's settings. */
const opcuaShape = {
  /** Client certificate, key and trusted server certificates; keep it on a persistent volume. */
  OPCUA_PKI_DIR: z.string().min(1).default('.opcua-pki'),
  /** Sign in to the machines with a user name and password instead of anonymously. */
  OPCUA_USERNAME: env.optionalString(),
  OPCUA_PASSWORD: env.optionalString(),
  /** Accept server certificates that are not in the PKI folder's trusted list yet. */
  OPCUA_TRUST_UNKNOWN_SERVERS: flag(false),
  /** After a Good method result, how long JobStatus has to reach its target. */
  OPCUA_TRANSITION_TIMEOUT_MS: env.int(10_000, 100),
  /** How long START waits in all while the machine reports START_UP_ACTIVE. */
  OPCUA_STARTUP_TIMEOUT_MS: env.int(120_000, 100),
  /** A session no command used for this long is closed. */
  OPCUA_SESSION_IDLE_MS: env.int(60_000, 100),
  /** Watch every OPC UA machine and let its status follow what it reports. */
  OPCUA_MONITOR: flag(true),
  /** A machine unreachable this long (from the moment the connection was lost) is POWEROFF. */
  OPCUA_OFFLINE_AFTER_MS: env.int(30_000, 100),
  /** How often the monitor looks for created, changed and deleted machines and renews its leases. */
  OPCUA_MONITOR_SYNC_MS: env.int(5_000, 100),
  /** A replica's hold on a machine's subscription; another takes it over this long after it died. */
  OPCUA_LEASE_MS: env.int(15_000, 300),
};

const workerShape = {
  ...operationsShape,
  PORT: env.port(8004),
  /** Commands one worker process drives at the same time. */
  WORKER_CONCURRENCY: env.int(8, 1, 1000),
  /** One attempt to reach a machine gives up after this long. */
  DRIVER_TIMEOUT_MS: env.int(5_000, 50),
  /** Attempts per command when the machine cannot be reached (a machine that answers "failed" is not retried). */
  DRIVER_ATTEMPTS: env.int(3, 1, 20),
  /** Wait before the second attempt; doubles for each further one. */
  DRIVER_BACKOFF_MS: env.int(500, 0),
  /** Defaults of the simulated machine (`sim://` or no endpoint); an endpoint's query overrides them. */
  SIM_LATENCY_MS: env.int(500, 0),
  SIM_FAIL_RATE: env.number(0, 0, 1),
  /** The only networks the worker may connect to (required in RELEASE; unrestricted in DEV when empty). */
  MACHINE_NETWORKS: cidrList,
  /** How often the sweeper queues PENDING commands that have no job and ends those past their deadline. */
  SWEEP_INTERVAL_MS: env.int(3_000, 100),
  /** A job whose worker stopped renewing its lock (crashed) for this long is handed to another worker. */
  JOB_LOCK_MS: env.int(30_000, 1_000),
  /** On SIGTERM, running commands get this long to finish; the rest go back to the queue. */
  WORKER_SHUTDOWN_MS: env.int(10_000, 0),
  /** Idempotency keys are kept (and replayed) this long. */
  IDEMPOTENCY_TTL_HOURS: env.int(24, 1),
  ...opcuaShape,
};

export type ApiConfig = z.infer<z.ZodObject<typeof apiShape>>;
export type WorkerConfig = z.infer<z.ZodObject<typeof workerShape>>;

export function loadApiConfig(source: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig(apiShape, { env: source });
}

export function loadWorkerConfig(source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig(workerShape, { env: source, requiredInRelease: ['MACHINE_NETWORKS'] });
}

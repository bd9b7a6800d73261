/** The data every run starts from, created through the API so it works against any server. */
import { randomBytes } from 'node:crypto';
import { ApiClient } from './api';

export interface Seed {
  username: string;
  password: string;
  userId: number;
  /** Machines with a role of their own, so one endpoint's writes never disturb another's. */
  machines: { get: number; put: number; patch: number; e2e: number };
  /** Machines that take commands during the load runs (round-robin, never one still pending). */
  commandMachines: number[];
  /** An anonymous client of the target (detects whether it answers in the envelope). */
  anonymous: ApiClient;
}

/** The simulator answers at once: what is measured is the system, not a machine. */
export const BENCH_ENDPOINT = 'sim://bench?latency_ms=0';

/** A new user of the run's own (`bench_<tag>_<hex>`), signed up through the API. */
export async function signUpBenchUser(
  anonymous: ApiClient,
  tag: string,
): Promise<{ username: string; password: string }> {
  const suffix = randomBytes(6).toString('hex');
  const username = `bench_${tag ? `${tag}_` : ''}${suffix}`;
  const password = `Bench-${randomBytes(8).toString('hex')}`;
  await anonymous.signUp({
    username,
    password,
    email: `${username}@bench.example`,
    first_name: 'Bench',
    last_name: suffix,
  });
  return { username, password };
}

export async function seedThroughApi(baseUrl: string, machineCount: number): Promise<Seed> {
  if (machineCount < 5) throw new Error('--machines: at least 5 (four have roles of their own)');
  const anonymous = new ApiClient(baseUrl);
  const { username, password } = await signUpBenchUser(anonymous, '');
  const { client, userId } = await anonymous.signIn(username, password);

  // Names `press-N`, so the search `ress-9` matches about a ninth of them at every size.
  const ids: number[] = new Array(machineCount);
  let next = 0;
  const creator = async () => {
    for (let i = next++; i < machineCount; i = next++) {
      ids[i] = await client.createMachine(`press-${i + 1}`, `hall-${i % 5}`, BENCH_ENDPOINT);
    }
  };
  await Promise.all(Array.from({ length: 16 }, creator));
  const [get, put, patch, e2e, ...commandMachines] = ids as [number, number, number, number, ...number[]];
  return { username, password, userId, machines: { get, put, patch, e2e }, commandMachines, anonymous };
}

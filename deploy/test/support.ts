import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@imm/logging';
import { closeServer, createHttpApp, listen } from '@imm/web';
import type { ProcessName } from '../../processes';
import { loadGatewayConfig } from '../../gateway/src/config';
import { loadAuthConfig } from '../../services/auth/src/config';
import { loadMachinesConfig } from '../../services/machines/src/config';
import { loadApiConfig, loadWorkerConfig } from '../../services/operations/src/config';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

/**
 * Each process's own configuration loader: the schema that decides which variables it needs (and
 * which RELEASE requires). A new process without an entry here does not type-check.
 */
export const configLoaders: Record<ProcessName, (env: NodeJS.ProcessEnv) => unknown> = {
  auth: loadAuthConfig,
  machines: loadMachinesConfig,
  operations: loadApiConfig,
  worker: loadWorkerConfig,
  gateway: loadGatewayConfig,
};

/** Values an operator would fill in for the secrets: valid, and unlike any default. */
export function sampleSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    POSTGRES_PASSWORD: 'compose-db-secret',
    // As one line with \n escapes, the way .env.example tells to write it.
    JWT_PRIVATE_KEY: pem.trim().replace(/\n/g, '\\n'),
    ADMIN_PASSWORD: 'a-long-admin-secret',
    CORS_ORIGINS: 'https://hmi.example.com',
    ALLOWED_HOSTS: 'imm.example.com',
    MACHINE_NETWORKS: '10.20.0.0/16',
  };
}

/** Reads `KEY=value` lines (comments and blanks skipped), as compose reads an env file. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1] as string] = match[2] as string;
  }
  return values;
}

/** The HTTP paths every process serves, as the shared app builder mounts them: status per path. */
export async function statusOfSharedRoutes(paths: string[]): Promise<Record<string, number>> {
  const app = createHttpApp({ logger: createLogger('deploy-test', 'silent'), readiness: {}, mount: () => {} });
  const server = await listen(app, 0);
  try {
    const port = (server.address() as AddressInfo).port;
    const statuses: Record<string, number> = {};
    for (const path of paths) statuses[path] = (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    return statuses;
  } finally {
    await closeServer(server);
  }
}

/** The package.json of every workspace package, as npm's `workspaces` patterns name them. */
export function workspaceManifests(): string[] {
  const patterns = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  return patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [`${pattern}/package.json`];
    const dir = pattern.slice(0, -2);
    return readdirSync(`${root}/${dir}`, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(`${root}/${dir}/${d.name}/package.json`))
      .map((d) => `${dir}/${d.name}/package.json`);
  });
}

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * No Docker engine runs here, so the deployment files are checked as data: every process of the
 * system is a service, on the port its code listens on, with the variables RELEASE requires and a
 * health check that asks the process itself.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}/${path}`, 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

const processes = {
  auth: { entry: 'services/auth/src/main.ts', port: '8001' },
  machines: { entry: 'services/machines/src/main.ts', port: '8002' },
  operations: { entry: 'services/operations/src/main.ts', port: '8003' },
  'operations-worker': { entry: 'services/operations/src/worker.ts', port: '8004' },
  gateway: { entry: 'gateway/src/main.ts', port: '8000' },
} as const;

describe('docker-compose.yml', () => {
  it('runs the three servers with health checks', () => {
    for (const name of ['postgres', 'redis', 'nats']) {
      expect(services[name]?.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(services.nats?.command).toContain('-js');
  });

  for (const [name, { entry, port }] of Object.entries(processes)) {
    describe(name, () => {
      const service = services[name] as ComposeService;

      it('starts its own entrypoint from the project image', () => {
        expect(service.build?.dockerfile).toBe('deploy/Dockerfile');
        expect(service.command).toEqual(['node', '--import', 'tsx', '--import', '@imm/telemetry/register', entry]);
        expect(existsSync(`${root}/${entry}`)).toBe(true);
      });

      it('listens where the others look for it, in RELEASE, with the shared settings', () => {
        const env = service.environment ?? {};
        expect(env.PORT).toBe(port);
        expect(env.MODE).toBe('RELEASE');
        expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
        expect(env.REDIS_URL).toBe('redis://redis:6379');
        expect(env.NATS_URL).toBe('nats://nats:4222');
        expect(env.AUTH_JWKS_URL).toBe('http://auth:8001/api/auth/jwks.json');
        expect([...(service.expose ?? []), ...(service.ports ?? [])].some((p) => p.endsWith(port))).toBe(true);
      });

      it('is healthy only when its readiness check passes, after the servers are', () => {
        expect(service.healthcheck?.test.join(' ')).toContain('/readyz');
        for (const server of ['postgres', 'redis', 'nats']) {
          expect(service.depends_on?.[server]?.condition).toBe('service_healthy');
        }
      });
    });
  }

  it('gives the gateway the addresses of every service and publishes only its port', () => {
    const env = services.gateway?.environment ?? {};
    expect(env.AUTH_URL).toBe('http://auth:8001');
    expect(env.MACHINES_URL).toBe('http://machines:8002');
    expect(env.OPERATIONS_URL).toBe('http://operations:8003');
    const published = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(published.map(([name]) => name)).toEqual(['gateway']);
  });

  it('passes every secret RELEASE requires from the environment, never a literal', () => {
    const required: Record<string, string[]> = {
      auth: ['JWT_PRIVATE_KEY', 'ADMIN_PASSWORD'],
      gateway: ['CORS_ORIGINS', 'ALLOWED_HOSTS'],
      'operations-worker': ['MACHINE_NETWORKS'],
    };
    for (const [name, keys] of Object.entries(required)) {
      for (const key of keys) expect(services[name]?.environment?.[key], `${name} ${key}`).toMatch(/^\$\{\w+:\?/);
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('builds on Node 20 and installs from the lock file', () => {
    expect(dockerfile).toMatch(/^FROM node:20[\w.-]*$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
  });

  it('copies every workspace manifest that exists, and only those', () => {
    const workspaces = JSON.parse(read('package.json')).workspaces as string[];
    const manifests = [...dockerfile.matchAll(/^COPY (\S+\/package\.json) /gm)].map((m) => m[1]);
    for (const manifest of manifests) expect(existsSync(`${root}/${manifest}`), manifest).toBe(true);
    const expected = workspaces.flatMap((pattern) =>
      pattern.endsWith('/*')
        ? readdirNames(pattern.slice(0, -2)).map((dir) => `${pattern.slice(0, -2)}/${dir}/package.json`)
        : [`${pattern}/package.json`],
    );
    expect([...manifests].sort()).toEqual(expected.sort());
  });

  it('runs tsx at run time, so it is a production dependency', () => {
    expect(JSON.parse(read('package.json')).dependencies?.tsx).toBeDefined();
  });
});

function readdirNames(dir: string): string[] {
  return readdirSync(`${root}/${dir}`, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${root}/${dir}/${d.name}/package.json`))
    .map((d) => d.name);
}

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tracingRequested } from '../../libs/telemetry/src/tracing';
import { processes, type Server } from '../../processes';
import { configLoaders, parseEnvFile, read, root, sampleSecrets, statusOfSharedRoutes } from './support';

/**
 * No Docker engine runs here, so docker-compose.yml is checked as data, against the one description
 * of the processes (processes.ts) and each process's own configuration schema.
 */
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  container_name?: string;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  networks?: string[];
}
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, ComposeService>;
  networks: Record<string, { ipam?: { config: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const envExample = parseEnvFile(read('.env.example'));

/** Compose's interpolation: `${X}`, `${X:-default}`, `${X-default}`, `${X:?error}`, `${X?error}`. */
function interpolate(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g, (_all, name: string, colon: string, op: string, arg) => {
    const value = values[name];
    const missing = value === undefined || (colon === ':' && value === '');
    if (op === '?' && missing) throw new Error(`compose refuses to start: ${name}: ${arg}`);
    if (op === '-' && missing) return arg;
    return value ?? '';
  });
}

/** A service's environment as compose gives it, from .env.example, the secrets and `values`. */
function environmentOf(service: ComposeService | undefined, values: Record<string, string> = {}) {
  const from = { ...envExample, ...sampleSecrets(), ...values };
  return Object.fromEntries(
    Object.entries(service?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), from)]),
  );
}

const variablesOf = (text: string) => [...text.matchAll(/\$\{(\w+)/g)].map((m) => m[1] as string);
const requiredOf = (text: string) => [...text.matchAll(/\$\{(\w+):?\?/g)].map((m) => m[1] as string);

describe('docker-compose.yml', () => {
  it('runs Postgres, Redis (append-only, noeviction) and NATS (JetStream), each on a volume with a health check', () => {
    for (const name of ['postgres', 'redis', 'nats'] satisfies Server[]) {
      expect(services[name]?.healthcheck?.test.length, name).toBeGreaterThan(0);
      expect(services[name]?.volumes?.length, name).toBeGreaterThan(0);
      expect(services[name]?.image, name).toMatch(/:\d+\.\d+/); // pinned, not :latest
    }
    const redis = services.redis?.command?.join(' ');
    expect(redis).toMatch(/--appendonly yes/);
    expect(redis).toMatch(/--maxmemory-policy noeviction/);
    expect(services.nats?.command).toContain('--jetstream');
  });

  it('has a service for every process of the system, and no other process', () => {
    const ours = Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'deploy/Dockerfile');
    expect(ours.map(([name]) => name).sort()).toEqual(processes.map((p) => p.deployName).sort());
  });

  for (const p of processes) {
    describe(p.deployName, () => {
      const service = services[p.deployName] as ComposeService;

      it('runs its compiled entry from the project image, with node and nothing else', () => {
        expect(service.build?.dockerfile).toBe('deploy/Dockerfile');
        expect(service.command).toEqual(['node', p.compiled]);
        expect(existsSync(`${root}/${p.entry}`)).toBe(true);
      });

      it('is described with the port its configuration defaults to', () => {
        const config = configLoaders[p.name]({}) as { PORT: number };
        expect(config.PORT).toBe(p.defaultPort);
      });

      it('listens on its port, internal only, with no fixed name, so it scales', () => {
        expect(service.environment?.PORT).toBe(String(p.defaultPort));
        expect(service.expose).toEqual([String(p.defaultPort)]);
        expect(service.ports).toBeUndefined();
        expect(service.container_name).toBeUndefined();
      });

      it('runs as a non-root user on a read-only root filesystem without privileges', () => {
        expect(service.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
        expect(service.read_only).toBe(true);
        expect(service.cap_drop).toEqual(['ALL']);
        expect(service.security_opt).toContain('no-new-privileges:true');
      });

      it('is healthy when /readyz answers, and starts after what it needs is healthy', () => {
        expect(service.healthcheck?.test.join(' ')).toContain("process.env.PORT+'/readyz'");
        const needs = [
          ...p.needs.servers,
          ...p.needs.processes.map((n) => processes.find((q) => q.name === n)?.deployName),
        ];
        for (const need of needs) expect(service.depends_on?.[need as string]?.condition, need).toBe('service_healthy');
      });

      it('is given every variable its configuration requires in RELEASE, from .env.example plus the secrets', () => {
        const env = Object.fromEntries(
          Object.entries(service.environment ?? {}).map(([k, v]) => [
            k,
            interpolate(String(v), { ...envExample, ...sampleSecrets() }),
          ]),
        );
        expect(env.MODE).toBe('RELEASE');
        expect(() => configLoaders[p.name](env)).not.toThrow();
        // A process gets the credentials of exactly the servers it uses.
        expect(env.DATABASE_URL !== undefined, 'DATABASE_URL').toBe(p.needs.servers.includes('postgres'));
        for (const server of p.needs.servers) {
          const url = { postgres: env.DATABASE_URL, redis: env.REDIS_URL, nats: env.NATS_URL }[server];
          expect(url, server).toMatch(new RegExp(`^\\w+://([^@]+@)?${server}:\\d+`));
        }
      });
    });
  }

  it('names each process in its traces, and sends them to the collector .env names (empty: tracing off)', () => {
    const names = processes.map((p) => services[p.deployName]?.environment?.OTEL_SERVICE_NAME);
    expect(names).toEqual(processes.map((p) => p.deployName));
    expect(envExample.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('');
    for (const p of processes) {
      const service = services[p.deployName];
      expect(service?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, p.name).toBe(`\${OTEL_EXPORTER_OTLP_ENDPOINT:-}`);
      expect(tracingRequested(environmentOf(service)), p.name).toBe(false);
      const traced = environmentOf(service, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' });
      expect(traced.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
      expect(tracingRequested(traced), p.name).toBe(true);
    }
  });

  it('keeps one copy of each JetStream stream, on its one NATS server', () => {
    expect(services.nats?.command?.join(' ')).not.toMatch(/--cluster|--routes/);
    for (const p of processes.filter((q) => q.needs.servers.includes('nats'))) {
      const env = environmentOf(services[p.deployName]);
      const config = configLoaders[p.name](env) as { NATS_STREAM_REPLICAS: number };
      expect(config.NATS_STREAM_REPLICAS, p.name).toBe(1);
    }
  });

  it("keeps the worker's OPC UA PKI on a named volume every replica shares, writable by the process's user", () => {
    const worker = services[processes.find((p) => p.name === 'worker')?.deployName ?? ''] as ComposeService;
    const config = configLoaders.worker(environmentOf(worker)) as { OPCUA_PKI_DIR: string };
    expect(config.OPCUA_PKI_DIR).toMatch(/^\//); // not the default, relative to the read-only /app
    const mount = worker.volumes?.find((v) => v.split(':')[1] === config.OPCUA_PKI_DIR);
    expect(mount, config.OPCUA_PKI_DIR).toBeDefined();
    const [volume, , mode] = (mount as string).split(':');
    expect(mode).toBeUndefined(); // read-write
    expect(Object.keys(compose.volumes)).toContain(volume); // a named volume: kept, and one for all replicas
    // A new named volume takes the owner of the image's folder: the user the processes run as.
    const owner = worker.user?.replace(/:.*/, '');
    expect(read('deploy/Dockerfile')).toMatch(
      new RegExp(`^RUN mkdir -p ${config.OPCUA_PKI_DIR} && chown ${owner}:\\d+ ${config.OPCUA_PKI_DIR}$`, 'm'),
    );
    for (const p of processes.filter((q) => q.name !== 'worker'))
      expect(services[p.deployName]?.volumes ?? [], p.name).toEqual([]);
  });

  it('finds each service the gateway calls by its compose name and port (which DNS spreads over replicas)', () => {
    const env = services.gateway?.environment ?? {};
    for (const name of processes.find((p) => p.name === 'gateway')?.needs.processes ?? []) {
      const target = processes.find((p) => p.name === name);
      expect(env[`${name.toUpperCase()}_URL`]).toBe(`http://${target?.deployName}:${target?.defaultPort}`);
    }
    expect(services.gateway?.environment?.AUTH_JWKS_URL).toBe('http://auth:8001/api/auth/jwks.json');
  });

  it('publishes one port, the edge proxy, which passes on only /api/** to the gateway', () => {
    const published = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(published.map(([name]) => name)).toEqual(['edge']);
    const conf = read('deploy/compose/edge.conf');
    const proxied = [...conf.matchAll(/location\s+([^{]+)\{[^}]*proxy_pass/g)].map((m) => m[1]?.trim());
    expect(proxied).toEqual(['/api/']);
    const gateway = processes.find((p) => p.public);
    expect(conf).toContain(`set $gateway http://${gateway?.deployName}:${gateway?.defaultPort};`);
    expect(conf).toMatch(/location \/ \{\s*return 404;/);
    // Nothing else reaches the processes: the edge's own check answers itself.
    const locations = [...conf.matchAll(/location\s+([^{]+)\{/g)].map((m) => m[1]?.trim());
    expect(locations).toEqual(['/api/', '= /edge-healthz', '/']);
    expect(services.edge?.volumes).toContain('./deploy/compose/edge.conf:/etc/nginx/conf.d/default.conf:ro');
  });

  it('lets the gateway believe forwarded headers from the edge network (and a load balancer) only', () => {
    const subnet = compose.networks.edge?.ipam?.config[0]?.subnet;
    expect(subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect(services.edge?.networks).toEqual(['edge']);
    expect(services.gateway?.networks).toEqual(['default', 'edge']);
    expect(services.gateway?.environment?.TRUSTED_PROXIES).toBe(`\${TRUSTED_PROXIES:-${subnet}}`);
    expect(envExample.TRUSTED_PROXIES).toBe(subnet);
    for (const p of processes.filter((q) => !q.public)) {
      expect(services[p.deployName]?.environment?.TRUSTED_PROXIES, p.name).toBeTruthy();
    }
  });

  it('takes every variable from .env.example, and refuses to start while a secret is still empty', () => {
    for (const name of variablesOf(composeText)) expect(Object.keys(envExample), name).toContain(name);
    const required = [...new Set(requiredOf(composeText))].sort();
    expect(required).toEqual(Object.keys(sampleSecrets()).sort());
    for (const name of required) {
      expect(envExample[name], name).toBe('');
      expect(() => interpolate(`\${${name}:?missing}`, envExample)).toThrow(name);
    }
  });

  it('points every health check at a route every process serves', async () => {
    const statuses = await statusOfSharedRoutes(['/readyz', '/healthz']);
    expect(statuses).toEqual({ '/readyz': 200, '/healthz': 200 });
  });
});

import { Validator } from '@seriousme/openapi-schema-validator';
import { freePort } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApiDocument, OpenAPIRegistry, registerRoute } from '@imm/web';
import { publicOpenApiDocument } from '../../scripts/openapi-document';
import { routeTable } from '../src/routes-table';
import {
  type StandIn,
  startStandIn,
  startTestGateway,
  startUpstreams,
  type TestGateway,
  uniquePrefix,
  upstreamEnv,
} from './support';

/** Parts made the way the services make theirs. */
function part(name: string, routes: Parameters<typeof registerRoute>[1][]) {
  const registry = new OpenAPIRegistry();
  for (const r of routes) registerRoute(registry, r);
  return buildOpenApiDocument(registry, { title: `imm-control ${name}`, version: '0.1.0' });
}

const user = z.object({ id: z.number().int(), username: z.string() }).meta({ id: 'User' });
const machine = z.object({ id: z.number().int(), name: z.string() }).meta({ id: 'Machine' });
const idParams = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' } }) });

const authPart = part('auth', [
  {
    method: 'post',
    path: '/api/sign-in/',
    operationId: 'signIn',
    summary: 'Sign in',
    tags: ['auth'],
    secured: false,
    body: z.object({ username: z.string(), password: z.string() }),
    success: {
      status: 200,
      description: 'Tokens',
      result: z.object({ user, token: z.object({ access: z.string() }) }),
    },
    errors: [400, 401, 429],
  },
  {
    method: 'get',
    path: '/api/me/',
    operationId: 'getMe',
    summary: 'The signed-in user',
    tags: ['auth'],
    secured: true,
    success: { status: 200, description: 'The user', result: z.object({ user }) },
    errors: [401],
  },
  {
    method: 'get',
    path: '/api/internal/secret/',
    operationId: 'getSecret',
    summary: 'Not routed by the gateway',
    tags: ['auth'],
    secured: false,
    success: { status: 200, description: 'x' },
    errors: [],
  },
]);
const machinesPart = part('machines', [
  {
    method: 'get',
    path: '/api/machines/',
    operationId: 'listMachines',
    summary: 'List machines',
    tags: ['machines'],
    secured: true,
    query: z.object({ page: z.coerce.number().int().optional() }),
    success: { status: 200, description: 'A page', result: z.object({ results: z.array(machine) }) },
    errors: [401],
  },
  {
    method: 'get',
    path: '/api/machines/{id}/',
    operationId: 'getMachine',
    summary: 'One machine',
    tags: ['machines'],
    secured: true,
    params: idParams,
    success: { status: 200, description: 'The machine', result: machine },
    errors: [401, 404],
  },
]);
const operationsPart = part('operations', [
  {
    method: 'post',
    path: '/api/machines/{id}/operation/',
    operationId: 'operateMachine',
    summary: 'Start or stop',
    tags: ['operations'],
    secured: true,
    params: idParams,
    body: z.object({ command: z.enum(['START', 'STOP']) }),
    success: { status: 202, description: 'Accepted', headers: { Location: 'The history entry' } },
    errors: [400, 401, 403, 404, 409],
  },
]);

let auth: StandIn;
let machines: StandIn;
let operations: StandIn;
let gw: TestGateway;
const toClose: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ({ auth, machines, operations } = await startUpstreams({
    auth: { openapi: authPart },
    machines: { openapi: machinesPart },
    operations: { openapi: operationsPart },
  }));
  gw = await startTestGateway({ ...upstreamEnv(auth, machines, operations), REDIS_PREFIX: uniquePrefix('openapi') });
  toClose.push(gw, auth, machines, operations);
});

afterAll(async () => {
  for (const c of toClose.reverse()) await c.close();
});

type Doc = {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers: { url: string }[];
  tags: { name: string; description?: string }[];
  paths: Record<
    string,
    Record<string, { operationId?: string; security?: unknown; responses: Record<string, unknown> }>
  >;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

async function getDocument(url: string): Promise<Doc> {
  const response = await fetch(`${url}/api/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as Doc;
}

describe('the merged document', () => {
  it('is valid OpenAPI 3.1, plain (not an envelope)', async () => {
    const doc = await getDocument(gw.url);
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("holds every service's routed paths and the gateway's own", async () => {
    const doc = await getDocument(gw.url);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/sign-in/',
        '/api/me/',
        '/api/machines/',
        '/api/machines/{id}/',
        '/api/machines/{id}/operation/',
        '/api/openapi.json',
        '/api/swagger/',
        '/api/docs/',
        '/healthz',
        '/readyz',
      ].sort(),
    );
    expect(doc.paths['/api/internal/secret/']).toBeUndefined();
  });

  it('has the info, servers, tags, the bearerAuth scheme and every component', async () => {
    const doc = await getDocument(gw.url);
    expect(doc.info.title).toBe('imm-control API');
    expect(doc.info.description).toContain('error_code');
    expect(doc.servers).toEqual([{ url: '/', description: 'This gateway' }]);
    expect(doc.tags.map((t) => t.name)).toEqual(['auth', 'machines', 'operations', 'docs', 'health']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['ErrorEnvelope', 'User', 'Machine']));
  });

  it("lists the gateway's own answers on every proxied operation", async () => {
    const doc = await getDocument(gw.url);
    const operation = doc.paths['/api/machines/{id}/operation/']!.post!;
    expect(operation.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(operation.responses)).toEqual(
      expect.arrayContaining(['401', '413', '429', '502', '503', '504']),
    );
    const signIn = doc.paths['/api/sign-in/']!.post!;
    expect(signIn.security).toEqual([]);
    expect(Object.keys(signIn.responses)).toContain('429');
  });

  it('GET only: another method is a 405 with Allow', async () => {
    const response = await fetch(`${gw.url}/api/openapi.json`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('GET');
    expect(((await response.json()) as { error_code: number }).error_code).toBe(6);
  });

  it('a service that comes up late is fetched when it answers', async () => {
    const latePort = await freePort();
    const lateUrl = `http://127.0.0.1:${latePort}`;
    const partial = await startTestGateway({
      ...upstreamEnv(auth, machines, operations),
      OPERATIONS_URL: lateUrl,
      REDIS_PREFIX: uniquePrefix('openapi_late'),
    });
    toClose.push(partial);
    const before = await getDocument(partial.url);
    expect(before.paths['/api/machines/{id}/operation/']).toBeUndefined();
    expect(before.paths['/api/machines/']).toBeDefined();

    const late = await startStandIn('operations', { openapi: operationsPart, port: latePort });
    toClose.push(late);
    const after = await getDocument(partial.url);
    expect(after.paths['/api/machines/{id}/operation/']).toBeDefined();
    expect((await new Validator().validate(after as unknown as Record<string, unknown>)).valid).toBe(true);
  });
});

describe('the public document the code builds', () => {
  const doc = publicOpenApiDocument() as unknown as Doc;
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );
  const schema = (name: string) => doc.components.schemas[name] as { properties: Record<string, unknown> };

  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
  });

  it('documents every result of a history entry and every machine status, not just the first', () => {
    expect(schema('HistoryEntry').properties.result).toMatchObject({ type: 'integer', enum: [1, 2, 3, 4, 5, 7] });
    expect(schema('Machine').properties.status).toMatchObject({ type: 'integer', enum: [1, 2, 3, 4, 5] });
  });

  it('names every operation once', () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('says which operations need no token (`security: []`) and which need one', () => {
    const access = new Map(routeTable.map((route) => [route.pattern, route.access]));
    for (const { path, method, operation } of operations) {
      const where = `${method} ${path}`;
      if (access.get(path) === 'protected') expect(operation.security, where).toEqual([{ bearerAuth: [] }]);
      else expect(operation.security, where).toEqual([]);
    }
    for (const path of ['/api/sign-up/', '/api/sign-in/', '/api/token/refresh/', '/api/auth/jwks.json', '/api/docs/']) {
      expect(access.get(path) ?? 'gateway', path).not.toBe('protected');
    }
  });
});

describe('readiness', () => {
  it('/readyz is 200 when Redis and every service are ready', async () => {
    const response = await fetch(`${gw.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 1,
      result: { redis: 'ok', auth: 'ok', machines: 'ok', operations: 'ok' },
    });
  });

  it('… and 503 while one service is not', async () => {
    machines.ready = false;
    try {
      const response = await fetch(`${gw.url}/readyz`);
      expect(response.status).toBe(503);
    } finally {
      machines.ready = true;
    }
  });
});

describe('documentation pages', () => {
  /** Local scripts, stylesheets and icons a page refers to. */
  function assetsOf(html: string): string[] {
    return [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']/g)].map((m) => m[1] as string);
  }

  for (const [page, expectedAssets] of [
    ['/api/swagger/', 6],
    ['/api/swagger', 6],
    ['/api/docs/', 2],
    ['/api/docs', 2],
  ] as const) {
    it(`${page} is HTML whose assets all load from the gateway`, async () => {
      const response = await fetch(`${gw.url}${page}`, { headers: { Accept: 'text/html,*/*;q=0.8' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/https?:/);
      const html = await response.text();
      expect(html).not.toMatch(/(src|href)=["']https?:/);
      const assets = assetsOf(html);
      expect(assets).toHaveLength(expectedAssets);
      for (const asset of assets) {
        expect(asset.startsWith('/api/')).toBe(true);
        const file = await fetch(`${gw.url}${asset}`);
        expect(file.status, asset).toBe(200);
        expect((await file.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
      }
    });
  }

  it("Swagger UI's init script points at the merged document, with no external validator", async () => {
    const script = await (await fetch(`${gw.url}/api/swagger/swagger-ui-init.js`)).text();
    expect(script).toContain('"swaggerUrl": "/api/openapi.json"');
    expect(script).toContain('"validatorUrl": null');
  });

  it('ReDoc reads the merged document', async () => {
    const html = await (await fetch(`${gw.url}/api/docs/`)).text();
    expect(html).toContain('<redoc spec-url="/api/openapi.json">');
  });

  it('other files in the Swagger UI folder are not served', async () => {
    for (const path of [
      '/api/swagger/index.html',
      '/api/swagger/swagger-initializer.js',
      '/api/swagger/package.json',
    ]) {
      const response = await fetch(`${gw.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { error_code: number }).error_code).toBe(5);
    }
  });
});

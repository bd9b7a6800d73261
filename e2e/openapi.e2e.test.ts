import { type RunningSystem, startSystem } from '@imm/testing';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../gateway/src/routes-table';
import { apiClient } from './client';

/**
 * The public OpenAPI document against the running system: valid OpenAPI 3.1, and its routes are
 * exactly the routes the gateway serves — every documented method answers (no 404 route, no
 * 405), every undocumented method of a documented path is a 405.
 */
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let document: { openapi: string; paths: Record<string, Record<string, unknown>> };
let token: string;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const gatewayOwn = ['/api/openapi.json', '/api/swagger/', '/api/docs/', '/healthz', '/readyz'];

beforeAll(async () => {
  system = await startSystem();
  api = apiClient(system.url);
  const user = await api.newUser('openapi');
  token = user.access;
  document = (await api.call('GET', '/api/openapi.json')).body;
});
afterAll(async () => {
  await system?.stop();
});

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists every route of the gateway, and nothing else', () => {
    const documented = Object.keys(document.paths).sort();
    const served = [...routeTable.map((route) => route.pattern), ...gatewayOwn].sort();
    expect(documented).toEqual(served);
  });

  it('documents the bearer scheme and uses it on protected routes', () => {
    const doc = document as unknown as {
      components: { securitySchemes: Record<string, { scheme?: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes.bearerAuth?.scheme).toBe('bearer');
    for (const route of routeTable.filter((r) => r.access === 'protected')) {
      for (const operation of Object.values(doc.paths[route.pattern] ?? {})) {
        expect(operation.security, route.pattern).toEqual([{ bearerAuth: [] }]);
      }
    }
  });

  it('matches what each path answers: documented methods exist, others are 405', async () => {
    for (const [path, operations] of Object.entries(document.paths)) {
      if (path === '/readyz' || path === '/healthz') continue;
      const concrete = path.replace(/\{\w+\}/g, '999999');
      for (const method of METHODS) {
        const response = await api.call(method.toUpperCase(), concrete, {
          token,
          body: method === 'get' || method === 'delete' ? undefined : {},
        });
        const where = `${method.toUpperCase()} ${path} -> ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`;
        if (method in operations) {
          expect(response.status, where).not.toBe(405);
          expect(response.body?.message, where).not.toBe('The requested resource was not found on this server.');
        } else {
          expect(response.status, where).toBe(405);
          expect(response.headers.get('allow'), where).toBeTruthy();
        }
      }
    }
  });
});

describe('documentation pages', () => {
  it('serves Swagger UI and ReDoc with their assets from the gateway itself', async () => {
    for (const page of ['/api/swagger/', '/api/docs/']) {
      const response = await fetch(`${system.url}${page}`);
      expect(response.status, page).toBe(200);
      const html = await response.text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1] as string);
      expect(assets.length, page).toBeGreaterThan(0);
      for (const asset of assets) {
        expect(asset, 'no external asset').not.toMatch(/^https?:\/\//);
        const url = new URL(asset, `${system.url}${page}`);
        expect((await fetch(url)).status, url.pathname).toBe(200);
      }
    }
  });
});

import { type RunningSystem, startSystem } from '@imm/testing';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../gateway/src/routes-table';
import { apiClient } from './client';
import { type OpenApiDocument, responseValidator } from './openapi-validator';

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

describe('every response is checked against the document', () => {
  const entry = {
    id: 1,
    request_datetime: '2026-01-01T08:00:00.000Z',
    command: 'START',
    worker: 2,
    machine_id: 3,
    machine_owner_id: 2,
    result: 4,
    created_at: '2026-01-01T08:00:00.000Z',
    finished_at: null,
    message: null,
  };
  const json = 'application/json; charset=utf-8';
  const check = (status: number, body: unknown, path = '/api/machines/3/history/1/', method = 'GET') =>
    responseValidator(document as unknown as OpenApiDocument).problems({
      method,
      path,
      status,
      contentType: json,
      body,
    });

  it('a response as documented passes, every result code included', () => {
    for (const result of [1, 2, 3, 4, 5, 7])
      expect(check(200, { status: 1, result: { ...entry, result } })).toEqual([]);
    expect(check(404, { status: 0, message: 'Not found.', error_code: 5 })).toEqual([]);
  });

  it('a wrong body is rejected: an unknown result code, a missing field, a string id, no envelope', () => {
    expect(check(200, { status: 1, result: { ...entry, result: 6 } })[0]).toMatch(
      /result\/result must be equal to one/,
    );
    const { finished_at: _, ...withoutFinish } = entry;
    expect(check(200, { status: 1, result: withoutFinish })[0]).toMatch(/must have required property 'finished_at'/);
    expect(check(200, { status: 1, result: { ...entry, id: '1' } })[0]).toMatch(/result\/id must be integer/);
    expect(check(200, entry)).not.toEqual([]);
    expect(check(404, { status: 0, message: 'x' })[0]).toMatch(/error_code/);
  });

  it('an undocumented status, path or method is rejected', () => {
    expect(check(201, { status: 1, result: entry })[0]).toMatch(/status 201 is not documented/);
    expect(check(200, { status: 1, result: {} }, '/api/no-such-thing/')[0]).toMatch(/undocumented path/);
    expect(check(200, { status: 1, result: {} }, '/api/machines/3/history/1/', 'DELETE')[0]).toMatch(/not a 405/);
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

import { buildOpenApiDocument, envelopeOf, errorEnvelopeSchema, OpenAPIRegistry } from '@imm/web';
import { z } from 'zod';
import type { MergeBase, OpenApiDocument } from './merge';

export const OPENAPI_PATH = '/api/openapi.json';
export const SWAGGER_PATH = '/api/swagger/';
export const REDOC_PATH = '/api/docs/';

const errorContent = { 'application/json': { schema: errorEnvelopeSchema } };
const throttled = { description: 'Throttled (see `Retry-After`)', content: errorContent };
const methodNotAllowed = { description: 'Method not allowed (see `Allow`)', content: errorContent };
const hostNotAllowed = { description: 'The `Host` header is not one of the allowed hosts', content: errorContent };

/** The routes the gateway answers itself, described like any service's part. */
export function gatewayDocument(version: string): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    security: [],
    summary: 'This document: the OpenAPI 3.1 description of the whole public API',
    tags: ['docs'],
    responses: {
      200: {
        description: 'The OpenAPI document itself (not wrapped in the envelope)',
        content: {
          'application/json': {
            schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }),
          },
        },
      },
      400: hostNotAllowed,
      405: methodNotAllowed,
      429: throttled,
    },
  });
  for (const [path, operationId, summary] of [
    [SWAGGER_PATH, 'getSwaggerUi', 'Swagger UI for this document'],
    [REDOC_PATH, 'getRedoc', 'ReDoc reference for this document'],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path,
      operationId,
      security: [],
      summary,
      tags: ['docs'],
      responses: {
        200: { description: 'An HTML page', content: { 'text/html': { schema: z.string() } } },
        400: hostNotAllowed,
        405: methodNotAllowed,
        429: throttled,
      },
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'getLiveness',
    security: [],
    summary: 'Liveness: the gateway process answers',
    tags: ['health'],
    responses: {
      200: {
        description: 'Alive',
        content: { 'application/json': { schema: envelopeOf(z.object({ status: z.literal('ok') })) } },
      },
      405: methodNotAllowed,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    security: [],
    summary: 'Readiness: Redis and every service answer (a harness can wait on the gateway alone)',
    tags: ['health'],
    responses: {
      200: {
        description: 'Every dependency is ready',
        content: {
          'application/json': {
            schema: envelopeOf(z.record(z.string(), z.literal('ok')).meta({ example: { redis: 'ok', auth: 'ok' } })),
          },
        },
      },
      503: {
        description: 'A dependency is down; `message` names it (see `Retry-After`)',
        headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'string' } } },
        content: errorContent,
      },
      405: methodNotAllowed,
    },
  });
  return buildOpenApiDocument(registry, { title: 'imm-control gateway', version }) as unknown as OpenApiDocument;
}

const description = `
Remote control and audit of injection molding machines.

**Envelope.** Every JSON response under \`/api\` is an envelope: \`{"status": 1, "result": …}\` on
success, \`{"status": 0, "message": …, "error_code": …}\` on failure. \`message\` is a string, or
\`{field: [messages]}\` for validation errors. Send \`Accept-Language: ko\` for Korean messages.

| error_code | name | HTTP |
|---|---|---|
| 0 | UNKNOWN | 500 |
| 2 | BADREQUEST | 400, 408, 413, 431 |
| 3 | UNAUTHENTICATED | 401 |
| 4 | PERMISSIONDENIED | 403 |
| 5 | NOTFOUND | 404 |
| 6 | METHODNOTALLOWED | 405 |
| 7 | NOTACCEPTABLE | 406 |
| 8 | UNSUPPORTEDMEDIATYPE | 415 |
| 9 | THROTTLED | 429 |
| 10 | DATABASEERROR | 503 |
| 11 | CONFLICT | 409 |
| 12 | SERVICEUNAVAILABLE | 502, 503, 504 |

**Authentication.** Sign in to get an access and a refresh token. Send the access token as
\`Authorization: Bearer <token>\` (the bare token without \`Bearer\` is accepted too).

**Conventions.** Paths work with and without the trailing slash. Ids are positive integers;
anything else is 404. Any other path is a 404 envelope; another method of a path is a 405 with
\`Allow\`. Every response carries \`X-Request-Id\` (yours, if you sent one). Requests
are rate limited per signed-in user, or per client address without a valid token (429 with
\`Retry-After\`).
`.trim();

export function mergeBase(version: string): MergeBase {
  return {
    info: { title: 'imm-control API', version, description },
    servers: [{ url: '/', description: 'This gateway' }],
    tags: [
      { name: 'auth', description: 'Sign-up, sign-in, tokens and the signed-in user' },
      { name: 'machines', description: 'Injection molding machines' },
      { name: 'operations', description: 'START/STOP commands and their history' },
      { name: 'docs', description: 'This document and its readers' },
      { name: 'health', description: 'Liveness and readiness probes' },
    ],
  };
}

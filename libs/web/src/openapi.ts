import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { completeEnums, describeLiteralValues } from './openapi-enums';

export { OpenAPIRegistry };

/**
 * Each service describes its routes from the same zod schemas that validate them and serves the
 * result at `/openapi.json`; the gateway merges them into the public document.
 */
export const errorEnvelopeSchema = z
  .object({
    status: z.literal(0),
    message: z.union([z.string(), z.record(z.string(), z.array(z.string()))]),
    error_code: z.number().int().meta({ description: 'See the error code table: 2 BADREQUEST, 3 UNAUTHENTICATED, …' }),
  })
  .meta({ id: 'ErrorEnvelope' });

export function envelopeOf<T extends z.ZodType>(result: T) {
  return z.object({ status: z.literal(1), result });
}

const errorDescriptions: Record<number, string> = {
  400: 'Validation failed (`message` is `{field: [messages]}`) or malformed JSON (`message` is a string)',
  401: 'Missing, invalid or expired access token',
  403: 'Not allowed for this user',
  404: 'Not found',
  405: 'Method not allowed (see `Allow`)',
  406: 'The Accept header rules out JSON',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  415: 'Body is not JSON',
  429: 'Throttled (see `Retry-After`)',
  500: 'A fault of the server (`error_code` 0; the body never shows its details)',
  502: 'A service answered badly',
  503: 'A service or the database is unavailable',
  504: 'A service did not answer in time',
};

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Unique in the whole public document: clients generated from it name their calls after it. */
  operationId: string;
  /** OpenAPI form, with the trailing slash the API documents: `/api/machines/{id}/`. */
  path: string;
  summary: string;
  tags: string[];
  /** Needs an access token; an open route says so with `security: []`. */
  secured: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  success: { status: number; description: string; result?: z.ZodType; headers?: Record<string, string> };
  errors: number[];
  headers?: z.ZodObject;
}

export function registerRoute(registry: OpenAPIRegistry, route: ApiRoute): void {
  const responses: Record<string, ResponseConfig> = {
    [route.success.status]: {
      description: route.success.description,
      ...(route.success.headers && {
        headers: Object.fromEntries(
          Object.entries(route.success.headers).map(([name, description]) => [
            name,
            { description, schema: { type: 'string' } },
          ]),
        ),
      }),
      ...(route.success.result && { content: { 'application/json': { schema: envelopeOf(route.success.result) } } }),
    },
  };
  // Every route: another method, an Accept without JSON, a fault, the database down. A write with
  // a body that is not JSON is a 415 even where the route reads no body.
  const common = [405, 406, 500, 503, ...(route.method === 'get' || route.method === 'delete' ? [] : [415])];
  for (const status of [...new Set([...route.errors, ...common])].sort((a, b) => a - b)) {
    responses[status] = {
      description: errorDescriptions[status] ?? 'Error',
      content: { 'application/json': { schema: errorEnvelopeSchema } },
    };
  }
  registry.registerPath({
    method: route.method,
    path: route.path,
    operationId: route.operationId,
    summary: route.summary,
    tags: route.tags,
    security: route.secured ? [{ bearerAuth: [] }] : [],
    request: {
      ...(route.params && { params: route.params }),
      ...(route.query && { query: route.query }),
      ...(route.headers && { headers: route.headers }),
      ...(route.body && { body: { required: true, content: { 'application/json': { schema: route.body } } } }),
    },
    responses,
  });
}

export function buildOpenApiDocument(
  registry: OpenAPIRegistry,
  info: { title: string; version: string; description?: string },
) {
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from sign-in; the `Bearer ` prefix may be left out.',
  });
  describeLiteralValues(registry.definitions);
  return completeEnums(new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info }));
}

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApiDocument, OpenAPIRegistry, registerRoute } from '../src/openapi';

/** The JSON Schema one response property is documented as. */
function documented(property: z.ZodType): unknown {
  const registry = new OpenAPIRegistry();
  registerRoute(registry, {
    method: 'get',
    path: '/api/things/',
    operationId: 'listThings',
    summary: 'Things',
    tags: ['things'],
    secured: false,
    success: { status: 200, description: 'A thing', result: z.object({ value: property }) },
    errors: [],
  });
  const doc = buildOpenApiDocument(registry, { title: 't', version: '1' }) as unknown as {
    paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } }>;
  };
  const envelope = doc.paths['/api/things/']!.get.responses['200']!.content['application/json']!.schema as {
    properties: { result: { properties: { value: unknown } } };
  };
  return envelope.properties.result.properties.value;
}

describe('enums in the generated document', () => {
  it('a literal of several values lists them all', () => {
    expect(documented(z.literal([1, 2, 3, 5, 7]))).toEqual({ type: 'integer', enum: [1, 2, 3, 5, 7] });
    expect(documented(z.literal(['a', 'b']))).toEqual({ type: 'string', enum: ['a', 'b'] });
  });

  it('a union of literals is one enum of every member', () => {
    const union = z.union([z.literal(1), z.literal(2), z.literal(4)]).meta({ description: 'd' });
    expect(documented(union)).toEqual({ type: 'integer', enum: [1, 2, 4], description: 'd' });
    expect(documented(z.union([z.literal('x'), z.literal(1.5)]))).toEqual({
      type: ['string', 'number'],
      enum: ['x', 1.5],
    });
  });

  it('a nullable one lets null through', () => {
    expect(documented(z.union([z.literal(1), z.literal(2)]).nullable())).toEqual({
      type: ['integer', 'null'],
      enum: [1, 2, null],
    });
    expect(documented(z.literal([1, 2]).nullable())).toEqual({ type: ['integer', 'null'], enum: [1, 2, null] });
  });

  it('a single literal and a numeric enum keep their one type', () => {
    expect(documented(z.literal(1))).toEqual({ type: 'integer', enum: [1] });
    expect(documented(z.enum({ A: 1, B: 2 }))).toEqual({ type: 'integer', enum: [1, 2] });
  });

  it('unions of other schemas are left as they are', () => {
    expect(documented(z.union([z.string(), z.literal(1)]))).toEqual({
      anyOf: [{ type: 'string' }, { type: 'integer', enum: [1] }],
    });
  });
});

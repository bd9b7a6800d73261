import { z } from 'zod';

/**
 * zod-to-openapi (8.x) documents `z.literal([1, 2, 3])` as its first value only, and a union of
 * literals as an `anyOf` of one-value enums that readers show as its first member. Every document
 * is built through the two steps below, so no schema can lose values whatever way it is written.
 */

type Json = Record<string, unknown>;
type ZodLike = { _zod: { def: Record<string, unknown> } };

const isZod = (value: unknown): value is ZodLike =>
  typeof value === 'object' && value !== null && '_zod' in value && typeof (value as ZodLike)._zod?.def === 'object';

/**
 * Before generation: every literal of several values reachable from `roots` (route definitions,
 * components) gets all of them as its `enum` metadata, which the generator puts over its own.
 */
export function describeLiteralValues(roots: unknown): void {
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (!isZod(value)) {
      for (const item of Object.values(value)) visit(item);
      return;
    }
    const def = value._zod.def;
    if (def.type === 'literal' && Array.isArray(def.values) && def.values.length > 1) {
      const schema = value as unknown as z.ZodType;
      z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), enum: [...def.values] });
    }
    if (def.type === 'lazy' && typeof def.getter === 'function') visit(def.getter());
    for (const item of Object.values(def)) visit(item);
  };
  visit(roots);
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** `integer` and `number` together are `number`. */
function typesOf(values: unknown[]): string[] {
  const types = new Set(values.map(jsonTypeOf));
  if (types.has('number')) types.delete('integer');
  return [...types];
}

const oneType = (types: string[]) => (types.length === 1 ? types[0] : types);

/** The values of a one-value schema (`{type, enum: [v]}`, `{const: v}`, `{type: 'null'}`), or undefined. */
function singleValueOf(schema: unknown): { value: unknown } | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const { type, enum: values, const: constant, ...rest } = schema as Json;
  if (Object.keys(rest).length > 0) return undefined;
  if (Array.isArray(values) && values.length === 1 && constant === undefined) return { value: values[0] };
  if ('const' in (schema as Json) && values === undefined) return { value: constant };
  if (type === 'null' && values === undefined) return { value: null };
  return undefined;
}

/** One schema, its children already completed. */
function completeSchema(schema: Json): Json {
  for (const key of ['anyOf', 'oneOf'] as const) {
    const members = schema[key];
    if (!Array.isArray(members) || members.length < 2) continue;
    const singles = members.map(singleValueOf);
    if (singles.some((single) => single === undefined)) continue;
    const values = singles.map((single) => single!.value);
    const { [key]: _members, ...rest } = schema;
    return { type: oneType(typesOf(values)), enum: values, ...rest };
  }
  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    const values = schema.enum as unknown[];
    const declared = schema.type === undefined ? [] : ([] as string[]).concat(schema.type as string | string[]);
    // A nullable enum lets null through only when null is one of its values.
    const withNull = declared.includes('null') && !values.includes(null) ? [...values, null] : values;
    return { ...schema, type: oneType(typesOf(withNull)), enum: withNull };
  }
  return schema;
}

/** After generation: unions of one-value schemas become one enum, and enums say their exact type. */
export function completeEnums<T>(document: T): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    const copy = Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item)]));
    return completeSchema(copy);
  };
  return walk(document) as T;
}

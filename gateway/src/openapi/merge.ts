import { matchRoute } from '../routes-table';

/** The parts of an OpenAPI 3.1 document the gateway reads or writes; everything else is carried as is. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string; [key: string]: unknown };
  servers?: { url: string; description?: string }[];
  tags?: { name: string; description?: string }[];
  paths?: Record<string, PathItem>;
  components?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

type Operation = {
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
  [key: string]: unknown;
};
type PathItem = Record<string, unknown>;

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface DocumentPart {
  /** `gateway` or the upstream's name. */
  name: string;
  document: OpenApiDocument;
}

export interface MergeBase {
  info: OpenApiDocument['info'];
  servers: NonNullable<OpenApiDocument['servers']>;
  /** Known tags in display order, with their descriptions. */
  tags: NonNullable<OpenApiDocument['tags']>;
}

export interface MergeResult {
  document: OpenApiDocument;
  /** Things a reader of the logs should know: dropped paths, conflicting components. */
  warnings: string[];
}

/** JSON with sorted keys, so two equal components compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
});

/** Answers the gateway itself gives on the way to any service, so every proxied operation lists them. */
function addGatewayResponses(operation: Operation, isProtected: boolean, hasIds: boolean, hasBody: boolean): void {
  operation.responses ??= {};
  const responses = operation.responses;
  responses['400'] ??= errorResponse('The `Host` header is not one of the allowed hosts');
  if (hasIds) responses['404'] ??= errorResponse('An id that is not a positive integer, or nothing with that id');
  if (isProtected) {
    operation.security ??= [{ bearerAuth: [] }];
    responses['401'] ??= errorResponse('Missing, invalid or expired access token');
  } else {
    // Open routes say so, rather than leaving readers to guess from a missing field.
    operation.security ??= [];
  }
  if (hasBody) responses['413'] ??= errorResponse('Body too large');
  responses['429'] ??= errorResponse('Throttled (see `Retry-After`)');
  responses['502'] ??= errorResponse('A service answered badly');
  responses['503'] ??= errorResponse('A service or the database is unavailable');
  responses['504'] ??= errorResponse('A service did not answer in time');
}

/** The table route a documented path would take (`{id}` placeholders stand for any valid id). */
function routeOfPath(path: string) {
  try {
    return matchRoute(path.replace(/\{\w+\}/g, '1'));
  } catch {
    return undefined;
  }
}

/**
 * One document from the gateway's own part and the services' parts. A service's path is kept only
 * when the gateway routes it to that service, so the document never promises a route the
 * gateway would answer with 404.
 */
export function mergeDocuments(base: MergeBase, parts: DocumentPart[]): MergeResult {
  const warnings: string[] = [];
  const paths: Record<string, PathItem> = {};
  const components: Record<string, Record<string, unknown>> = {};
  const tagDescriptions = new Map(base.tags.map((tag) => [tag.name, tag.description]));
  const usedTags = new Set<string>();

  for (const { name, document } of parts) {
    for (const tag of document.tags ?? []) {
      if (!tagDescriptions.get(tag.name)) tagDescriptions.set(tag.name, tag.description);
    }
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      const route = name === 'gateway' ? undefined : routeOfPath(path);
      if (name !== 'gateway' && route?.route.upstream !== name) {
        warnings.push(`${name}: path ${path} is not routed to ${name} by the gateway; left out`);
        continue;
      }
      if (paths[path]) {
        warnings.push(`${name}: path ${path} is already documented by another part; left out`);
        continue;
      }
      const copy = structuredClone(item);
      for (const method of methods) {
        const operation = copy[method] as Operation | undefined;
        if (!operation) continue;
        for (const tag of operation.tags ?? []) usedTags.add(tag);
        // The body limit applies to any write, whether or not the operation reads a body.
        const hasBody = Boolean(operation.requestBody) || ['post', 'put', 'patch'].includes(method);
        if (route) addGatewayResponses(operation, route.route.access === 'protected', path.includes('{'), hasBody);
      }
      paths[path] = copy;
    }
    for (const [kind, entries] of Object.entries(document.components ?? {})) {
      components[kind] ??= {};
      const merged = components[kind];
      for (const [key, value] of Object.entries(entries ?? {})) {
        if (!(key in merged)) merged[key] = value;
        else if (canonical(merged[key]) !== canonical(value)) {
          warnings.push(`${name}: components.${kind}.${key} differs from another part's; the first one is kept`);
        }
      }
    }
  }

  // Sorted, so the document reads in the same order whichever service answered first.
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  const known = base.tags.map((tag) => tag.name);
  const tagNames = [...known.filter((tag) => usedTags.has(tag)), ...[...usedTags].filter((t) => !known.includes(t))];
  return {
    document: {
      openapi: '3.1.0',
      info: base.info,
      servers: base.servers,
      tags: tagNames.map((tagName) => {
        const description = tagDescriptions.get(tagName);
        return description ? { name: tagName, description } : { name: tagName };
      }),
      paths: sortedPaths,
      components,
    },
    warnings,
  };
}

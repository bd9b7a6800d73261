import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Checks a response against the published OpenAPI document: the operation of its path and method,
 * the response of its status, the media type and the JSON Schema of its body. OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, so Ajv checks them as they are.
 */

export interface CheckedResponse {
  method: string;
  /** The request path, with or without a query string. */
  path: string;
  status: number;
  contentType: string | null;
  /** The parsed JSON, the text of another media type, or undefined when empty. */
  body: unknown;
}

type Json = Record<string, unknown>;
interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
export interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  components?: Json;
}

// ajv-formats is CommonJS; its function is the default export's default under ESM.
const addFormats = ((addFormatsModule as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

const DOCUMENT_ID = 'openapi.json';

/** The document's `#/components/...` references, pointed at the components registered under DOCUMENT_ID. */
function anchored(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(anchored);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#/')
        ? `${DOCUMENT_ID}${value}`
        : anchored(value),
    ]),
  );
}

interface PathTemplate {
  template: string;
  regex: RegExp;
  /** Literal paths win over templated ones that also match (`/api/machines/history/` vs `{id}`). */
  params: number;
}

function compileTemplate(template: string): PathTemplate {
  const params = (template.match(/\{\w+\}/g) ?? []).length;
  const body = template
    .replace(/\/$/, '')
    .split(/(\{\w+\})/)
    .map((part) => (/^\{\w+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  // The gateway answers every path with and without its trailing slash.
  return { template, regex: new RegExp(`^${body}/?$`), params };
}

export interface ResponseValidator {
  /** The problems of one response; empty when it matches the document. */
  problems(response: CheckedResponse): string[];
}

export function responseValidator(document: OpenApiDocument): ResponseValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ components: document.components ?? {} }, DOCUMENT_ID);
  const templates = Object.keys(document.paths ?? {})
    .map(compileTemplate)
    .sort((a, b) => a.params - b.params);
  const compiled = new Map<unknown, ValidateFunction>();
  const validatorOf = (schema: unknown) => {
    let validate = compiled.get(schema);
    if (!validate) {
      validate = ajv.compile(anchored(schema) as Json);
      compiled.set(schema, validate);
    }
    return validate;
  };
  const errorEnvelope = { $ref: '#/components/schemas/ErrorEnvelope' };

  function bodyProblems(schema: unknown, body: unknown, where: string): string[] {
    const validate = validatorOf(schema);
    if (validate(body)) return [];
    return [`${where}: body does not match the documented schema: ${ajv.errorsText(validate.errors)}`];
  }

  return {
    problems(response) {
      const method = response.method.toLowerCase();
      const path = response.path.split('?')[0] as string;
      const where = `${response.method.toUpperCase()} ${response.path} -> ${response.status}`;
      const template = templates.find((candidate) => candidate.regex.test(path));
      if (!template) {
        // Every other path is the gateway's 404, in the envelope.
        if (response.status !== 404) return [`${where}: undocumented path answered other than 404`];
        return bodyProblems(errorEnvelope, response.body, where);
      }
      const operation = document.paths?.[template.template]?.[method];
      if (!operation) {
        // A documented path's other methods are 405s, in the envelope.
        if (response.status !== 405) return [`${where}: method not documented for ${template.template}, and not a 405`];
        return bodyProblems(errorEnvelope, response.body, where);
      }
      const responses = operation.responses ?? {};
      const documented =
        responses[String(response.status)] ?? responses[`${String(response.status)[0]}XX`] ?? responses.default;
      if (!documented) {
        return [
          `${where}: status ${response.status} is not documented for ${method.toUpperCase()} ${template.template}`,
        ];
      }
      const content = documented.content;
      if (!content) {
        if (response.body === undefined || response.body === '') return [];
        return [`${where}: the document promises no body, but one came`];
      }
      const mediaType = (response.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const media = content[mediaType];
      if (!media) {
        return [`${where}: media type "${mediaType}" is not documented (${Object.keys(content).join(', ')})`];
      }
      return media.schema === undefined ? [] : bodyProblems(media.schema, response.body, where);
    },
  };
}

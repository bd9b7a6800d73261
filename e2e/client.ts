import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import { type OpenApiDocument, type ResponseValidator, responseValidator } from './openapi-validator';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  body?: unknown;
  /** A raw body, sent as is (malformed JSON, other media types). */
  raw?: string;
  token?: string;
  headers?: Record<string, string>;
}

export interface ClientOptions {
  /**
   * Where the server publishes the OpenAPI document every response is checked against: the
   * gateway's `/api/openapi.json` by default; a service reached directly serves its part at `/openapi.json`.
   */
  document?: string;
}

/** A response that the published document does not describe: the test that received it fails. */
export class OpenApiMismatchError extends Error {
  override name = 'OpenApiMismatchError';
}

/** Each server's document, fetched once per test file. */
const validators = new Map<string, Promise<ResponseValidator>>();
/** Mismatches seen during the current test, even one whose error the test caught (a retry loop). */
const mismatches: string[] = [];

afterEach(() => {
  const seen = mismatches.splice(0);
  if (seen.length > 0) throw new OpenApiMismatchError(`responses not as documented:\n${seen.join('\n')}`);
});

function validatorFor(url: string): Promise<ResponseValidator> {
  let validator = validators.get(url);
  if (!validator) {
    validator = fetch(url).then(async (response) => {
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      return responseValidator((await response.json()) as OpenApiDocument);
    });
    // A failed fetch (the server not up yet) is tried again by the next call.
    validator.catch(() => validators.delete(url));
    validators.set(url, validator);
  }
  return validator;
}

/**
 * A client of the public API, as an integration would use it. Every response is checked against
 * the published OpenAPI document (path, method, status, media type, body); one that does not
 * match throws, and fails the test even if the error is caught.
 */
export function apiClient(baseUrl: string, clientOptions: ClientOptions = {}) {
  const documentUrl = `${baseUrl}${clientOptions.document ?? '/api/openapi.json'}`;

  async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { 'X-Request-Id': randomUUID(), ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (HTML pages): kept as text.
    }
    const problems = (await validatorFor(documentUrl)).problems({
      method,
      path,
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: parsed,
    });
    if (problems.length > 0) {
      mismatches.push(...problems);
      throw new OpenApiMismatchError(problems.join('\n'));
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  let counter = 0;
  /** Signs up a fresh user and returns its tokens. */
  async function newUser(prefix = 'user') {
    counter += 1;
    const username = `${prefix}${counter}_${randomUUID().slice(0, 8)}`;
    const password = `molding-${randomUUID().slice(0, 8)}`;
    const response = await call('POST', '/api/sign-up/', {
      body: { username, email: `${username}@example.com`, password, first_name: 'Test', last_name: 'User' },
    });
    if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${JSON.stringify(response.body)}`);
    const { user, token } = response.body.result;
    return {
      username,
      password,
      id: user.id as number,
      access: token.access as string,
      refresh: token.refresh as string,
    };
  }

  return { call, newUser };
}

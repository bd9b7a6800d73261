import { randomUUID } from 'node:crypto';

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

/** A client of the public API, as an integration would use it. */
export function apiClient(baseUrl: string) {
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

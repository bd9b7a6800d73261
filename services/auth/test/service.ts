import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { dropTestDatabase, type TestInfrastructure, testInfrastructure } from '@imm/testing';
import { loadAuthConfig } from '../src/config';
import { type RunningAuthService, startAuthService } from '../src/main';
import { createLogger } from '@imm/logging';

/** Settings of one test file: its own database, stream prefix and Redis prefix. */
export function testSettings(tag: string, overrides: Record<string, string> = {}): Record<string, string> {
  const infrastructure: TestInfrastructure = testInfrastructure(tag);
  return { ...infrastructure, PORT: '0', BCRYPT_ROUNDS: '10', LOG_LEVEL: 'silent', ...overrides };
}

export interface TestService extends RunningAuthService {
  url: string;
  call(method: string, path: string, options?: CallOptions): Promise<Called>;
}

export interface CallOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface Called {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in tests
  body: any;
}

/** Starts the service in-process, exactly as main does, on a free port. */
export async function startService(settings: Record<string, string>): Promise<TestService> {
  const config = loadAuthConfig(settings);
  const running = await startAuthService(config, createLogger('auth-test', settings.LOG_LEVEL ?? 'silent'));
  const url = `http://127.0.0.1:${running.port}`;
  return {
    ...running,
    url,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const response = await fetch(`${url}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
    },
  };
}

export { dropTestDatabase };

/** A sign-up body that passes every rule. */
export function newUser(username: string, extra: Record<string, unknown> = {}) {
  return {
    username,
    email: `${username}@example.com`,
    password: `pw-${username}-secret`,
    first_name: 'First',
    last_name: 'Last',
    ...extra,
  };
}

/** The payload of a JWT, without verifying it. */
export function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
}

export function headerOf(token: string): Record<string, unknown> {
  const [header] = token.split('.');
  return JSON.parse(Buffer.from(header ?? '', 'base64url').toString());
}

/** A hash exactly as Django's PBKDF2PasswordHasher writes it. */
export function djangoHash(password: string, iterations = 390_000): string {
  const salt = randomBytes(12).toString('base64url').slice(0, 16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64');
  return `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
}

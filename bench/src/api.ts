/**
 * A small client of the machines API that works against imm-control (answers wrapped in
 * `{"status": 1, "result": …}`) and against the Django service it replaces (bare answers), so one
 * harness measures both. Used for seeding and for the end-to-end command runs, not for load.
 */
import { Agent, request as httpRequest } from 'node:http';

export const PENDING = 4;
export const MachineStatus = { READY: 2, PAUSE: 3, RUNNING: 4 } as const;
export type Command = 'START' | 'STOP';

export interface Reply {
  status: number;
  /** The answer with the envelope taken off, when there was one. */
  body: unknown;
}

export class ApiError extends Error {}

type Json = Record<string, unknown>;

// node:http with keep-alive costs the harness less CPU per request than fetch, which matters when
// the end-to-end runs poll hundreds of entries a second on the same two cores as the system.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; text: string }> {
  // An explicit length: WSGI servers read no chunked body.
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers, agent, timeout: 60_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new ApiError(`${method} ${url}: no answer within 60 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

export class ApiClient {
  /** True once an answer came in the envelope: the target is imm-control, not the Django service. */
  enveloped = false;

  constructor(
    readonly baseUrl: string,
    private token?: string,
  ) {}

  withToken(token: string): ApiClient {
    const client = new ApiClient(this.baseUrl, token);
    client.enveloped = this.enveloped;
    return client;
  }

  get accessToken(): string {
    if (!this.token) throw new ApiError('not signed in');
    return this.token;
  }

  async call(method: string, path: string, body?: unknown, expect: number[] = [200, 201, 202]): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await send(
      this.baseUrl + path,
      method,
      headers,
      body === undefined ? undefined : JSON.stringify(body),
    );
    const text = response.text;
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: reported below if the status is unexpected
    }
    if (!expect.includes(response.status)) {
      throw new ApiError(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
    }
    return { status: response.status, body: this.unwrap(parsed) };
  }

  private unwrap(body: unknown): unknown {
    if (isObject(body) && body.status === 1 && 'result' in body) {
      this.enveloped = true;
      return body.result;
    }
    return body;
  }

  async signUp(user: { username: string; password: string; email: string; first_name: string; last_name: string }) {
    await this.call('POST', '/api/sign-up/', user, [201]);
  }

  /** Signs in; returns a client carrying the access token and the user's id (from the token's claims). */
  async signIn(username: string, password: string): Promise<{ client: ApiClient; userId: number }> {
    const { body } = await this.call('POST', '/api/sign-in/', { username, password }, [200]);
    const access = isObject(body) && isObject(body.token) ? body.token.access : isObject(body) ? body.access : null;
    if (typeof access !== 'string') throw new ApiError('sign-in answered without an access token');
    return { client: this.withToken(access), userId: userIdOf(access) };
  }

  async createMachine(name: string, location: string, endpoint: string): Promise<number> {
    const { body } = await this.call('POST', '/api/machines/', { name, location, endpoint }, [201]);
    return idOf(body);
  }

  async machineStatus(id: number): Promise<number> {
    const { body } = await this.call('GET', `/api/machines/${id}/`);
    if (!isObject(body) || typeof body.status !== 'number') throw new ApiError(`machine ${id}: no status`);
    return body.status;
  }

  /** POSTs a command; the id of the history entry when accepted (202), undefined when refused (409). */
  async command(machineId: number, command: Command): Promise<number | undefined> {
    const reply = await this.call('POST', `/api/machines/${machineId}/operation/`, { command }, [202, 409]);
    return reply.status === 202 ? idOf(reply.body) : undefined;
  }

  /**
   * The entry's result. imm-control serves one entry by its id; the Django service has no such
   * route, so its machine history is read (newest first: the entry is on the first page).
   */
  async entryResult(machineId: number, entryId: number): Promise<number | undefined> {
    if (this.enveloped) {
      const { body } = await this.call('GET', `/api/machines/${machineId}/history/${entryId}/`);
      return isObject(body) && typeof body.result === 'number' ? body.result : undefined;
    }
    const { body } = await this.call('GET', `/api/machines/${machineId}/history/`);
    const rows = isObject(body) && Array.isArray(body.results) ? body.results : Array.isArray(body) ? body : [];
    const row = rows.find((entry: unknown) => isObject(entry) && entry.id === entryId) as Json | undefined;
    return typeof row?.result === 'number' ? row.result : undefined;
  }

  /** `count` of a paginated list. */
  async count(path: string): Promise<number> {
    const { body } = await this.call('GET', path);
    if (!isObject(body) || typeof body.count !== 'number') throw new ApiError(`${path}: no count`);
    return body.count;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idOf(body: unknown): number {
  if (!isObject(body) || typeof body.id !== 'number') throw new ApiError('answer without an id');
  return body.id;
}

/** Both systems put the user's id in the access token's `user_id` claim. */
function userIdOf(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Json;
  if (typeof claims.user_id !== 'number') throw new ApiError('access token without user_id');
  return claims.user_id;
}

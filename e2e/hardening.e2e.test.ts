import { pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort, query, type RunningSystem, startSystem, waitFor } from '@imm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './client';

/**
 * Malformed requests, secrets in logs under database errors, and what a failed command's history
 * tells: through the gateway (and straight at a service), as a client or an attacker would.
 */
let system: RunningSystem;
let api: ReturnType<typeof apiClient>;
let machineServer: Server;
let machinePort: number;

beforeAll(async () => {
  // A machine speaking the old HTTP protocol badly: an error status with detail, or not JSON.
  machineServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/server-error') res.writeHead(500).end('PLC fault 0x2F at 10.20.30.40');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('definitely not json');
    });
  });
  await new Promise<void>((resolve) => machineServer.listen(0, '127.0.0.1', resolve));
  machinePort = (machineServer.address() as AddressInfo).port;
  system = await startSystem({
    MACHINE_NETWORKS: '127.0.0.0/8',
    DRIVER_ATTEMPTS: '1',
    DRIVER_TIMEOUT_MS: '1000',
  });
  api = apiClient(system.url);
});
afterAll(async () => {
  await system?.stop();
  await new Promise((resolve) => machineServer?.close(resolve));
});

/** One raw HTTP exchange, for what fetch will not send. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

const envelopeOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

describe('malformed requests answer in the envelope, never 500 or an empty body', () => {
  it('a Content-Encoding the body does not have → 400; an encoding not supported → 415', async () => {
    const user = await api.newUser('encoding');
    for (const encoding of ['gzip', 'deflate', 'br']) {
      for (const [path, token] of [
        ['/api/sign-in/', undefined],
        ['/api/machines/', user.access],
      ] as const) {
        const response = await api.call('POST', path, {
          token,
          raw: JSON.stringify({ username: 'x', password: 'y', name: 'n', location: 'l' }),
          headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding },
        });
        expect(response.status, `${encoding} ${path}`).toBe(400);
        expect(response.body).toEqual({
          status: 0,
          message: 'The request body does not match its Content-Encoding.',
          error_code: 2,
        });
      }
    }
    const zstd = await api.call('POST', '/api/sign-in/', {
      raw: '{}',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' },
    });
    expect(zstd.status).toBe(415);
    expect(zstd.body).toMatchObject({ status: 0, error_code: 8 });
    const list = await api.call('GET', '/api/machines/?search=n', { token: user.access });
    expect(list.body.result.count).toBe(0);
  });

  it('headers over Node’s limit → 431 in the envelope, at the gateway and at a service', async () => {
    for (const port of [system.env.GATEWAY_PORT, system.env.MACHINES_PORT]) {
      const response = await fetch(`http://127.0.0.1:${port}/api/machines/`, {
        headers: { 'X-Padding': 'x'.repeat(20_000) },
      });
      expect(response.status).toBe(431);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({
        status: 0,
        message: 'Request header fields are too large.',
        error_code: 2,
      });
    }
  });

  it('a broken request line → 400 in the envelope', async () => {
    const answer = await rawExchange(Number(system.env.GATEWAY_PORT), 'THIS IS NOT HTTP\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(envelopeOf(answer)).toEqual({ status: 0, message: 'Bad request.', error_code: 2 });
  });
});

describe('secrets in logs', () => {
  it('a database error in sign-up or in a rehash logs no hash, password or token', async () => {
    const url = system.env.DATABASE_URL as string;
    // A user imported from Django: its first sign-in rehashes the password to bcrypt.
    const importedPassword = `imported-${randomUUID().slice(0, 8)}`;
    const salt = randomBytes(12).toString('base64url').slice(0, 16);
    const djangoHash = `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync(importedPassword, salt, 1000, 32, 'sha256').toString('base64')}`;
    await query(
      url,
      `insert into auth.users (username, email, password) values ('imported', 'imported@example.com', $1)`,
      [djangoHash],
    );
    // From now on the database refuses any new bcrypt hash: both writes fail inside the driver.
    await query(url, `alter table auth.users add constraint fault_injected check (password like 'pbkdf2%') not valid`);
    try {
      const signUpId = `e2e-signup-${randomUUID()}`;
      const signUpPassword = `molding-${randomUUID().slice(0, 8)}`;
      const signUp = await api.call('POST', '/api/sign-up/', {
        headers: { 'X-Request-Id': signUpId },
        body: {
          username: 'faulty',
          email: 'faulty@example.com',
          password: signUpPassword,
          first_name: 'F',
          last_name: 'L',
        },
      });
      expect(signUp.status).toBe(500);
      expect(signUp.body).toEqual({ status: 0, message: 'A server error occurred.', error_code: 0 });

      const rehashId = `e2e-rehash-${randomUUID()}`;
      const rehash = await api.call('POST', '/api/sign-in/', {
        headers: { 'X-Request-Id': rehashId },
        body: { username: 'imported', password: importedPassword },
      });
      expect(rehash.status).toBe(500);

      // Both errors were logged, with their SQL, by the auth service...
      const errorLines = () =>
        system
          .output()
          .split('\n')
          .filter((line) => line.includes('unhandled error') && (line.includes(signUpId) || line.includes(rehashId)));
      await waitFor(() => errorLines().length >= 2);
      expect(errorLines().join('\n')).toMatch(/insert into|update/i);
      // ...and no line anywhere holds a hash or a password.
      const output = system.output();
      expect(output).not.toMatch(/\$2[aby]\$\d\d\$/);
      expect(output).not.toContain(djangoHash);
      expect(output).not.toContain(salt);
      expect(output).not.toContain(signUpPassword);
      expect(output).not.toContain(importedPassword);
    } finally {
      await query(url, 'alter table auth.users drop constraint fault_injected');
    }
  });
});

describe('what the history tells', () => {
  it('a failed command reads a short fixed reason; the detail is in the worker’s log only', async () => {
    const owner = await api.newUser('prober');
    const closedPort = await freePort();
    const cases: [endpoint: string, reason: string, detail: RegExp][] = [
      [`http://127.0.0.1:${machinePort}/server-error`, 'bad reply', /HTTP 500/],
      [`http://127.0.0.1:${machinePort}/not-json`, 'bad reply', /other than JSON/],
      [`http://127.0.0.1:${closedPort}/cmd`, 'refused', /ECONNREFUSED/],
      ['http://192.0.2.10/cmd', 'not allowed by the network policy', /127\.0\.0\.0\/8/],
    ];
    for (const [endpoint, reason, detail] of cases) {
      const machine = await api.call('POST', '/api/machines/', {
        token: owner.access,
        body: { name: 'probe', location: 'hall', endpoint },
      });
      expect(machine.status).toBe(201);
      const accepted = await api.call('POST', `/api/machines/${machine.body.result.id}/operation/`, {
        token: owner.access,
        body: { command: 'START' },
      });
      expect(accepted.status).toBe(202);
      const location = accepted.headers.get('location') as string;
      const entry = await waitFor(
        async () => {
          const got = await api.call('GET', location, { token: owner.access });
          return got.body.result.result !== 4 ? got.body.result : undefined;
        },
        { timeoutMs: 20_000 },
      );
      expect(entry, endpoint).toMatchObject({ result: 3, message: reason });
      const workerLine = await waitFor(() =>
        system
          .output()
          .split('\n')
          .find((line) => line.includes('command finished') && line.includes(`"operationId":${entry.id}`)),
      );
      expect(workerLine, endpoint).toMatch(detail);
    }
  });
});

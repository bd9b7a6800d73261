import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createLogger } from '@imm/logging';
import { dropRedisKeys } from '@imm/testing';
import { closeServer } from '@imm/web';
import { type GatewayConfig, loadGatewayConfig } from '../src/config';
import { type RunningGateway, startGateway } from '../src/gateway';

/** A Redis key prefix (and name) no other test file uses. */
export function uniquePrefix(tag: string): string {
  return `t_gw_${tag}_${randomBytes(4).toString('hex')}`;
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface StandIn {
  name: string;
  url: string;
  port: number;
  /** Every proxied request it received (not /readyz, /openapi.json or the JWKS). */
  seen: SeenRequest[];
  /** The JWKS it publishes at /internal/jwks.json (the gateway's AUTH_JWKS_URL in tests). */
  jwks: object[];
  ready: boolean;
  close(): Promise<void>;
}

export interface StandInOptions {
  /** Its part of the OpenAPI document, served at /openapi.json (404 when absent). */
  openapi?: object;
  port?: number;
}

/**
 * A stand-in service: answers every request with an envelope echoing what it received. The
 * `x-test-delay` header (ms) makes it slow. It answers with its own X-Request-Id, which the
 * gateway must not pass on.
 */
export async function startStandIn(name: string, options: StandInOptions = {}): Promise<StandIn> {
  const app = express();
  const standIn: StandIn = {
    name,
    url: '',
    port: 0,
    seen: [],
    jwks: [],
    ready: true,
    close: async () => {},
  };
  app.get('/readyz', (_req, res) => {
    res.status(standIn.ready ? 200 : 503).json({ status: standIn.ready ? 1 : 0 });
  });
  app.get('/openapi.json', (_req, res) => {
    if (options.openapi) res.json(options.openapi);
    else res.status(404).json({ status: 0 });
  });
  app.get('/internal/jwks.json', (_req, res) => {
    res.json({ keys: standIn.jwks });
  });
  app.use((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      standIn.seen.push({ method: req.method, url: req.originalUrl, headers: req.headers, body });
      const delay = Number(req.get('x-test-delay') ?? 0);
      setTimeout(() => {
        res.set('X-Request-Id', `upstream-${randomUUID()}`);
        res.json({
          status: 1,
          result: { upstream: name, method: req.method, url: req.originalUrl, bodyLength: body.length },
        });
      }, delay);
    });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  standIn.port = (server.address() as AddressInfo).port;
  standIn.url = `http://127.0.0.1:${standIn.port}`;
  standIn.close = () => closeServer(server);
  return standIn;
}

export interface Upstreams {
  auth: StandIn;
  machines: StandIn;
  operations: StandIn;
}

/** Stand-ins for the three services, started together; `options` by service (e.g. its OpenAPI part). */
export async function startUpstreams(
  options: Partial<Record<keyof Upstreams, StandInOptions>> = {},
): Promise<Upstreams> {
  const [auth, machines, operations] = await Promise.all([
    startStandIn('auth', options.auth),
    startStandIn('machines', options.machines),
    startStandIn('operations', options.operations),
  ]);
  return { auth, machines, operations };
}

export interface TestGateway {
  url: string;
  config: GatewayConfig;
  gateway: RunningGateway;
  close(): Promise<void>;
}

/** The real gateway wiring (Redis, agents, OpenAPI catalog, HTTP) on a free port. */
export async function startTestGateway(env: Record<string, string>): Promise<TestGateway> {
  const config = loadGatewayConfig({ PORT: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', ...env });
  const gateway = await startGateway(config, createLogger('gateway', config.LOG_LEVEL));
  return {
    url: `http://127.0.0.1:${gateway.port}`,
    config,
    gateway,
    async close() {
      await gateway.close();
      await dropRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
    },
  };
}

/** Gateway settings pointing at three stand-ins (the JWKS at the auth stand-in). */
export function upstreamEnv(auth: StandIn, machines: StandIn, operations: StandIn): Record<string, string> {
  return {
    AUTH_URL: auth.url,
    MACHINES_URL: machines.url,
    OPERATIONS_URL: operations.url,
    AUTH_JWKS_URL: `${auth.url}/internal/jwks.json`,
  };
}

// ---- tokens ----

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: object;
}

export function makeSigningKey(kid: string = randomUUID()): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } };
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function accessClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    token_type: 'access',
    exp: now + 1800,
    iat: now,
    jti: randomUUID(),
    user_id: 7,
    username: 'alice',
    is_staff: false,
    is_superuser: false,
    ...overrides,
  };
}

/** An ES256 JWT signed with `key` (the header may claim another kid). */
export function signToken(key: SigningKey, claims: object, header: Record<string, unknown> = {}): string {
  const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: key.kid, ...header })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export function unsignedToken(claims: object, kid: string): string {
  return `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(claims)}.`;
}

/** The classic confusion attack: HS256 with the public key's PEM as the shared secret. */
export function hs256WithPublicKey(key: SigningKey, claims: object): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64(claims)}`;
  const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

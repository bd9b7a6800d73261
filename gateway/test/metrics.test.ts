import { ConfigError } from '@imm/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config';
import {
  accessClaims,
  makeSigningKey,
  signToken,
  startTestGateway,
  startUpstreams,
  type TestGateway,
  uniquePrefix,
  type Upstreams,
  upstreamEnv,
} from './support';

/** The gateway's port is the public one: /metrics answers only where METRICS_ALLOW says. */
let upstreams: Upstreams;
const gateways: TestGateway[] = [];
const key = makeSigningKey();

async function gatewayWith(env: Record<string, string>): Promise<TestGateway> {
  const { auth, machines, operations } = upstreams;
  const gw = await startTestGateway({
    ...upstreamEnv(auth, machines, operations),
    REDIS_PREFIX: uniquePrefix('metrics'),
    ...env,
  });
  gateways.push(gw);
  return gw;
}

beforeAll(async () => {
  upstreams = await startUpstreams();
  upstreams.auth.jwks = [key.jwk];
});
afterAll(async () => {
  await Promise.all(gateways.map((gw) => gw.close()));
  await Promise.all(Object.values(upstreams ?? {}).map((s) => s.close()));
});

describe('gateway /metrics', () => {
  it('answers loopback by default, with request durations by route pattern and status', async () => {
    const gw = await gatewayWith({});
    const token = signToken(key, accessClaims());
    const proxied = await fetch(`${gw.url}/api/machines/42/`, { headers: { Authorization: `Bearer ${token}` } });
    expect(proxied.status).toBe(200);
    const response = await fetch(`${gw.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="\/api\/machines\/\{id\}\/",status="200"\} 1$/m,
    );
    // The id is not a label: one series per route, however many machines.
    expect(text).not.toContain('/api/machines/42/');
  });

  it('is a 404, like any unknown path, for an address outside METRICS_ALLOW', async () => {
    const gw = await gatewayWith({ METRICS_ALLOW: '10.0.0.0/8, 192.168.0.0/16' });
    const response = await fetch(`${gw.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ status: 0, error_code: 5 });
  });

  it('takes single addresses as well as ranges', async () => {
    const gw = await gatewayWith({ METRICS_ALLOW: '127.0.0.1' });
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
  });

  it('refuses to start with a METRICS_ALLOW entry that is not an address or a range', () => {
    expect(() => loadGatewayConfig({ METRICS_ALLOW: '10.0.0.0/8,intranet' })).toThrow(ConfigError);
    expect(() => loadGatewayConfig({ METRICS_ALLOW: '10.0.0.0/40' })).toThrow(/METRICS_ALLOW/);
  });
});

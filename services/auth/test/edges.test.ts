import type { AddressInfo } from 'node:net';
import { ConfigError } from '@imm/config';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAuthConfig } from '../src/config';
import { dropTestDatabase, startService, type TestService, testSettings } from './service';

/** The service as a client on the plant network would reach it, bypassing the gateway. */
const started: { service: TestService; settings: Record<string, string> }[] = [];

async function start(overrides: Record<string, string>) {
  const settings = testSettings('auth_edges', overrides);
  const service = await startService(settings);
  started.push({ service, settings });
  return service;
}

afterAll(async () => {
  for (const { service, settings } of started) {
    await service.stop();
    await dropTestDatabase(settings.DATABASE_URL as string);
  }
});

describe('the edges of a service', () => {
  it('listens on loopback unless HOST says otherwise', async () => {
    const service = await start({});
    expect((service.server.address() as AddressInfo).address).toBe('127.0.0.1');
  });

  it('believes X-Forwarded-For only from TRUSTED_PROXIES: a direct client cannot pick its address', async () => {
    const service = await start({ TRUSTED_PROXIES: '192.0.2.1', SIGNIN_MAX_FAILURES_PER_PAIR: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await service.call('POST', '/api/sign-in/', {
        body: { username: 'admin', password: 'wrong guess' },
        headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
      });
      statuses.push(response.status);
    }
    // All four counted under the client's real address, so the fourth is refused.
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('checks TRUSTED_PROXIES and defaults it to loopback', () => {
    expect(loadAuthConfig({}).TRUSTED_PROXIES).toEqual(['loopback']);
    expect(loadAuthConfig({ TRUSTED_PROXIES: '10.0.0.5, 10.1.0.0/16,loopback' }).TRUSTED_PROXIES).toEqual([
      '10.0.0.5',
      '10.1.0.0/16',
      'loopback',
    ]);
    expect(() => loadAuthConfig({ TRUSTED_PROXIES: 'gateway.local' })).toThrow(ConfigError);
    expect(() => loadAuthConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(ConfigError);
  });
});

import { ConfigError } from '@imm/config';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config';

describe('gateway configuration', () => {
  it('has working defaults for a local machine', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      MODE: 'DEV',
      PORT: 8000,
      AUTH_URL: 'http://127.0.0.1:8001',
      MACHINES_URL: 'http://127.0.0.1:8002',
      OPERATIONS_URL: 'http://127.0.0.1:8003',
      AUTH_JWKS_URL: 'http://127.0.0.1:8001/api/auth/jwks.json',
      UPSTREAM_TIMEOUT_MS: 30_000,
      BODY_LIMIT: { bytes: 102_400, text: '100kb' },
      RATE_LIMIT_PER_MINUTE: 600,
      CORS_ORIGINS: [],
      ALLOWED_HOSTS: [],
      TRUST_PROXY: 'loopback',
      REDIS_PREFIX: 'imm',
    });
  });

  it('finds the JWKS on AUTH_URL unless AUTH_JWKS_URL is given', () => {
    expect(loadGatewayConfig({ AUTH_URL: 'http://auth:9001' }).AUTH_JWKS_URL).toBe(
      'http://auth:9001/api/auth/jwks.json',
    );
    expect(
      loadGatewayConfig({ AUTH_URL: 'http://auth:9001', AUTH_JWKS_URL: 'http://keys/jwks.json' }).AUTH_JWKS_URL,
    ).toBe('http://keys/jwks.json');
  });

  it('reads sizes, lists, origins and trust settings', () => {
    const config = loadGatewayConfig({
      BODY_LIMIT: '2MB',
      CORS_ORIGINS: 'https://app.example.com/, http://localhost:3000',
      ALLOWED_HOSTS: 'api.example.com, .example.net',
      TRUST_PROXY: '1',
    });
    expect(config.BODY_LIMIT).toEqual({ bytes: 2 * 1024 * 1024, text: '2MB' });
    expect(config.CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(config.ALLOWED_HOSTS).toEqual(['api.example.com', '.example.net']);
    expect(config.TRUST_PROXY).toBe(1);
    expect(loadGatewayConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
    // The variable every process reads names the proxies in front of the gateway too.
    expect(loadGatewayConfig({ TRUSTED_PROXIES: '10.0.0.0/8,192.0.2.7' }).TRUST_PROXY).toBe('10.0.0.0/8, 192.0.2.7');
    expect(loadGatewayConfig({ TRUSTED_PROXIES: '10.0.0.0/8', TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
  });

  it('RELEASE needs CORS_ORIGINS and ALLOWED_HOSTS', () => {
    expect(() => loadGatewayConfig({ MODE: 'RELEASE' })).toThrow(ConfigError);
    expect(
      loadGatewayConfig({ MODE: 'RELEASE', CORS_ORIGINS: 'https://app.example.com', ALLOWED_HOSTS: 'api.example.com' })
        .MODE,
    ).toBe('RELEASE');
  });

  it('reports every wrong variable at once', () => {
    try {
      loadGatewayConfig({
        PORT: 'x',
        BODY_LIMIT: '10 gigs',
        CORS_ORIGINS: 'https://ok.example.com,*',
        AUTH_URL: 'nope',
      });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(
        expect.arrayContaining(['PORT', 'BODY_LIMIT', 'CORS_ORIGINS', 'AUTH_URL']),
      );
    }
  });
});

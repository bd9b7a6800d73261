import { generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '@imm/config';
import { describe, expect, it } from 'vitest';
import { loadAuthConfig } from '../src/config';

const pem = (namedCurve: string) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
  return {
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadAuthConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('has working DEV defaults', () => {
    const config = loadAuthConfig({});
    expect(config).toMatchObject({
      MODE: 'DEV',
      PORT: 8001,
      ACCESS_TOKEN_LIFETIME: 1800,
      REFRESH_TOKEN_LIFETIME: 86400,
      BCRYPT_ROUNDS: 12,
      ADMIN_PASSWORD: '1qaz2wsx',
      ADMIN_EMAIL: 'admin@localhost',
      SIGNIN_MAX_FAILURES_PER_PAIR: 5,
      SIGNIN_MAX_FAILURES_PER_IP: 100,
      SIGNIN_USERNAME_DELAY_AFTER: 20,
      SIGNIN_USERNAME_DELAY_BASE_MS: 250,
      SIGNIN_USERNAME_DELAY_MAX_MS: 5000,
      SIGNIN_FAILURE_WINDOW: 900,
      SIGNUP_MAX_PER_IP: 50,
      SIGNUP_WINDOW: 3600,
      PASSWORD_WORK_CONCURRENCY: 4,
      PASSWORD_WORK_QUEUE: 32,
      REDIS_TIMEOUT_MS: 250,
      THROTTLE_REDIS_TIMEOUT_MS: 1000,
      JWT_PREVIOUS_PUBLIC_KEYS: [],
    });
    expect(config.JWT_PRIVATE_KEY).toBeUndefined();
  });

  it('requires the signing key and the admin password in RELEASE, and refuses the DEV password there', () => {
    expect(problemsOf({ MODE: 'RELEASE' })).toEqual([
      'JWT_PRIVATE_KEY: required when MODE=RELEASE',
      'ADMIN_PASSWORD: required when MODE=RELEASE',
    ]);
    const key = pem('prime256v1').privateKey;
    expect(problemsOf({ MODE: 'RELEASE', JWT_PRIVATE_KEY: key, ADMIN_PASSWORD: '1qaz2wsx' })).toEqual([
      'ADMIN_PASSWORD: the DEV default is not allowed when MODE=RELEASE',
    ]);
    expect(problemsOf({ MODE: 'RELEASE', JWT_PRIVATE_KEY: key, ADMIN_PASSWORD: 'a long admin secret' })).toEqual([]);
  });

  it('reads PEM keys with real or escaped newlines, and names wrong ones', () => {
    const current = pem('prime256v1');
    const previous = [pem('prime256v1'), pem('prime256v1')];
    const config = loadAuthConfig({
      JWT_PRIVATE_KEY: current.privateKey.replace(/\n/g, '\\n'),
      JWT_PREVIOUS_PUBLIC_KEYS: previous.map((k) => k.publicKey).join(''),
    });
    expect(config.JWT_PRIVATE_KEY?.asymmetricKeyType).toBe('ec');
    expect(config.JWT_PREVIOUS_PUBLIC_KEYS).toHaveLength(2);

    expect(problemsOf({ JWT_PRIVATE_KEY: pem('secp384r1').privateKey })).toEqual([
      'JWT_PRIVATE_KEY: must be a PEM private key on the P-256 curve (EC prime256v1)',
    ]);
    expect(problemsOf({ JWT_PRIVATE_KEY: 'not a key' })).toHaveLength(1);
    expect(problemsOf({ JWT_PREVIOUS_PUBLIC_KEYS: 'nothing' })).toEqual([
      'JWT_PREVIOUS_PUBLIC_KEYS: expected one or more PEM public keys',
    ]);
  });

  it('checks the admin password against the policy and the numbers against their ranges', () => {
    expect(problemsOf({ ADMIN_PASSWORD: 'short' })).toEqual([
      'ADMIN_PASSWORD: breaks the password policy (password_too_short)',
    ]);
    expect(problemsOf({ BCRYPT_ROUNDS: '8' })).toHaveLength(1);
    expect(problemsOf({ SIGNIN_MAX_FAILURES_PER_PAIR: '0' })).toHaveLength(1);
  });
});

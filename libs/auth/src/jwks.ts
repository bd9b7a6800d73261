import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg?: string;
  use?: string;
}

export interface KeySource {
  /** The public key for `kid`, or undefined when no such key is published. */
  getKey(kid: string): Promise<KeyObject | undefined>;
}

/** Keys given directly, as the auth service verifies with its own. */
export function staticKeySource(keys: PublicJwk[]): KeySource {
  const byKid = new Map(keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
  return { getKey: async (kid) => byKid.get(kid) };
}

interface RemoteOptions {
  timeoutMs?: number;
  /** An unknown kid refetches the set at most this often, so forged kids cannot flood the auth service. */
  minRefreshMs?: number;
}

/**
 * The auth service's published JWKS, cached by kid and refetched when a token names a kid not yet
 * seen: a key rotation needs no restart of any verifier.
 */
export function remoteKeySource(url: string, options: RemoteOptions = {}): KeySource {
  const timeoutMs = options.timeoutMs ?? 3000;
  const minRefreshMs = options.minRefreshMs ?? 5000;
  let keys = new Map<string, KeyObject>();
  let lastFetch = 0;
  let inflight: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`JWKS fetch failed: ${response.status}`);
    const body = (await response.json()) as { keys?: PublicJwk[] };
    const next = new Map<string, KeyObject>();
    for (const jwk of body.keys ?? []) {
      if (typeof jwk.kid === 'string') next.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
    }
    keys = next;
    lastFetch = Date.now();
  }

  return {
    async getKey(kid) {
      const known = keys.get(kid);
      if (known) return known;
      if (Date.now() - lastFetch < minRefreshMs && lastFetch > 0) return undefined;
      inflight ??= refresh().finally(() => {
        inflight = undefined;
      });
      await inflight;
      return keys.get(kid);
    },
  };
}

import type { AccessClaims, Principal } from './claims';

interface Verified {
  claims: AccessClaims;
  principal: Principal;
  /** `exp` claim, in seconds since the epoch. */
  exp: number;
  kid: string;
}

/**
 * Tokens whose signature and claims were checked already, so a client that sends the same access
 * token on every request pays for one ECDSA verification instead of one per request (in the
 * gateway and again in each service). A token never changes, so an entry is never stale; expiry
 * and the key's presence are still checked on every hit.
 */
export function verifiedTokens(capacity = 10_000) {
  const entries = new Map<string, Verified>();
  return {
    get(token: string): Verified | undefined {
      return entries.get(token);
    },
    remember(token: string, entry: Verified): void {
      // Map iterates in insertion order: the first key is the oldest entry.
      if (entries.size >= capacity) entries.delete(entries.keys().next().value as string);
      entries.set(token, entry);
    },
    forget(token: string): void {
      entries.delete(token);
    },
  };
}

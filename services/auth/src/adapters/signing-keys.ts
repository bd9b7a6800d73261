import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { type PublicJwk, TOKEN_ALGORITHM } from '@imm/auth';

/**
 * The keys tokens are signed and verified with. Only the current private key signs; the current
 * public key and the previous ones (during a rotation) verify and are published in the JWKS.
 */
export interface SigningKeys {
  kid: string;
  privateKey: KeyObject;
  /** Current key first, then previous ones. */
  publicJwks: PublicJwk[];
}

export function isP256PrivateKey(key: KeyObject): boolean {
  return (
    key.type === 'private' && key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
  );
}

export function isP256PublicKey(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, base64url. */
export function jwkThumbprint(jwk: { crv?: string; kty?: string; x?: string; y?: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function publicJwkOf(key: KeyObject): PublicJwk {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { crv, kty, x, y };
  return { ...jwk, kid: jwkThumbprint(jwk), alg: TOKEN_ALGORITHM, use: 'sig' };
}

export function signingKeysOf(privateKey: KeyObject, previousPublicKeys: KeyObject[] = []): SigningKeys {
  const current = publicJwkOf(privateKey);
  const previous = previousPublicKeys.map(publicJwkOf).filter((jwk) => jwk.kid !== current.kid);
  return { kid: current.kid, privateKey, publicJwks: [current, ...previous] };
}

/** A new P-256 key as PKCS#8 PEM, for DEV runs without a configured key. */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The JWKS document: a standard format, so it is served as is, not in the API envelope. */
export function jwksDocument(keys: SigningKeys): { keys: PublicJwk[] } {
  return { keys: keys.publicJwks };
}

export interface KeySettings {
  /** The configured key (JWT_PRIVATE_KEY); RELEASE always has one. */
  privateKey?: KeyObject;
  previousPublicKeys: KeyObject[];
  /** Stores `candidate` unless a DEV key is stored already, and returns the stored key's PEM. */
  storedDevKey: (candidate: { kid: string; privateKeyPem: string }) => Promise<string>;
}

/**
 * The configured key, or else (DEV) the key kept in the database, generated on the first start:
 * tokens survive restarts, and processes starting together sign with the same key.
 */
export async function resolveSigningKeys(
  settings: KeySettings,
): Promise<SigningKeys & { source: 'config' | 'database' }> {
  if (settings.privateKey)
    return { ...signingKeysOf(settings.privateKey, settings.previousPublicKeys), source: 'config' };
  const candidate = generateSigningKeyPem();
  const pem = await settings.storedDevKey({
    kid: publicJwkOf(createPrivateKey(candidate)).kid,
    privateKeyPem: candidate,
  });
  return { ...signingKeysOf(createPrivateKey(pem), settings.previousPublicKeys), source: 'database' };
}

import { createPrivateKey, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import type * as client from 'openid-client';
import { UsageError } from '../errors.js';
import type { ClientKeyMaterial } from './options.js';

/** A client authentication method the token endpoint may ask for. */
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** The WebCrypto import parameters and JWS alg for each private key type we accept. */
function algorithmFor(key: KeyObject, source: string): { alg: string; params: RsaHashedImportParams | EcKeyImportParams | { name: 'Ed25519' } } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { alg: 'RS256', params: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return { alg: 'ES256', params: { name: 'ECDSA', namedCurve: 'P-256' } };
      if (curve === 'secp384r1') return { alg: 'ES384', params: { name: 'ECDSA', namedCurve: 'P-384' } };
      if (curve === 'secp521r1') return { alg: 'ES512', params: { name: 'ECDSA', namedCurve: 'P-521' } };
      throw new UsageError(`--client-key-file ${source}: the EC curve ${curve ?? '?'} is not supported (use P-256, P-384 or P-521)`, 'bad_client_key');
    }
    case 'ed25519':
      return { alg: 'EdDSA', params: { name: 'Ed25519' } };
    default:
      throw new UsageError(`--client-key-file ${source}: a ${key.asymmetricKeyType ?? 'symmetric'} key cannot sign client assertions (use RSA, EC or Ed25519)`, 'bad_client_key');
  }
}

/**
 * Import a --client-key-file (PEM: PKCS#8, PKCS#1 or SEC1; or a private JWK) as the non-extractable
 * signing key of an RFC 7523 §2.2 client assertion. The JWK's kid, when it has one, goes into the
 * assertion header so the server can pick the matching public key.
 */
export async function importClientKey(material: ClientKeyMaterial): Promise<client.PrivateKey & { alg: string }> {
  const text = material.text.trim();
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as JsonWebKey & { kid?: unknown; keys?: unknown };
      if (Array.isArray(jwk.keys)) throw new Error('a JWK Set; give the one private JWK');
      if (typeof jwk.kid === 'string') kid = jwk.kid;
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (err) {
    throw new UsageError(`--client-key-file ${material.source}: not a PEM or JWK private key (${(err as Error).message})`, 'bad_client_key');
  }
  const { alg, params } = algorithmFor(key, material.source);
  const jwk = key.export({ format: 'jwk' });
  const cryptoKey = await webcrypto.subtle.importKey('jwk', jwk, params, false, ['sign']);
  return { key: cryptoKey as unknown as CryptoKey, kid, alg };
}

/** The auth method a pre-registered client with a private key uses (RFC 7523 §2.2), checked against the AS metadata. */
export function privateKeyJwtSupported(supported: readonly string[] | undefined): boolean {
  // RFC 8414 §2: absent means client_secret_basic only; but many servers omit the list, so absent is tried.
  return supported === undefined || supported.includes('private_key_jwt');
}

/** The imported key of --client-key-file, or undefined when none was given (clientAuthFor then says what is missing). */
export async function clientKeyFor(material: ClientKeyMaterial | undefined): Promise<client.PrivateKey | undefined> {
  return material ? importClientKey(material) : undefined;
}

import { createHash } from 'node:crypto';

/**
 * The DPoP key pair of a profile (RFC 9449 §4.2) as it is kept in the token store, beside the
 * tokens it binds. Pure: no crypto beyond hashing, so the bridge's request path can load it
 * without the OAuth stack.
 */

/** The proof algorithms the bridge can sign with, in order of preference (ES256 by default). */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
export type DpopAlg = (typeof DPOP_ALGS)[number];

/** A private JWK as stored: only the members that define the key (no ext, key_ops, use). */
export type PrivateJwk =
  | { kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string }
  | { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string }
  | { kty: 'RSA'; n: string; e: string; d: string; p: string; q: string; dp: string; dq: string; qi: string };

/** The DPoP key of a session: the tokens are bound to jkt, the RFC 7638 thumbprint of its public key. */
export interface StoredDpopKey {
  alg: DpopAlg;
  /** base64url SHA-256 JWK thumbprint (RFC 7638) of the public key: the token's cnf.jkt (RFC 9449 §6). */
  jkt: string;
  privateJwk: PrivateJwk;
}

/** The public half of a stored key, as it goes into the proof's `jwk` header. */
export function publicJwkOf(jwk: PrivateJwk): Record<string, string> {
  switch (jwk.kty) {
    case 'EC':
      return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    case 'OKP':
      return { kty: 'OKP', crv: jwk.crv, x: jwk.x };
    case 'RSA':
      return { kty: 'RSA', n: jwk.n, e: jwk.e };
  }
}

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: PrivateJwk | Record<string, string>): string {
  const pub = publicJwkOf(jwk as PrivateJwk);
  const required = Object.keys(pub).sort();
  const canonical = `{${required.map((k) => `${JSON.stringify(k)}:${JSON.stringify(pub[k])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The JWK members each algorithm's key must have. */
function jwkFitsAlg(jwk: Record<string, unknown>, alg: DpopAlg): boolean {
  const str = (k: string): boolean => typeof jwk[k] === 'string' && (jwk[k] as string).length > 0;
  switch (alg) {
    case 'ES256':
      return jwk.kty === 'EC' && jwk.crv === 'P-256' && ['x', 'y', 'd'].every(str);
    case 'EdDSA':
      return jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && ['x', 'd'].every(str);
    case 'RS256':
      return jwk.kty === 'RSA' && ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'].every(str);
  }
}

/** Keep only the members that define the key (drops ext, key_ops, alg, use from an exported JWK). */
export function toPrivateJwk(jwk: Record<string, unknown>, alg: DpopAlg): PrivateJwk | undefined {
  if (!jwkFitsAlg(jwk, alg)) return undefined;
  const pick = (keys: string[]): Record<string, string> => Object.fromEntries(keys.map((k) => [k, jwk[k] as string]));
  switch (alg) {
    case 'ES256':
      return pick(['kty', 'crv', 'x', 'y', 'd']) as PrivateJwk;
    case 'EdDSA':
      return pick(['kty', 'crv', 'x', 'd']) as PrivateJwk;
    case 'RS256':
      return pick(['kty', 'n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi']) as PrivateJwk;
  }
}

/** Validate a stored key; anything malformed (or whose thumbprint does not match) reads as "no key". */
export function parseStoredDpopKey(value: unknown): StoredDpopKey | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Partial<StoredDpopKey>;
  if (!DPOP_ALGS.includes(v.alg as DpopAlg) || typeof v.jkt !== 'string' || !v.privateJwk || typeof v.privateJwk !== 'object') return undefined;
  const jwk = toPrivateJwk(v.privateJwk as unknown as Record<string, unknown>, v.alg as DpopAlg);
  if (!jwk || jwkThumbprint(jwk) !== v.jkt) return undefined;
  return { alg: v.alg as DpopAlg, jkt: v.jkt, privateJwk: jwk };
}

/**
 * The algorithm to sign proofs with: the first of DPOP_ALGS that every list given accepts (the
 * authorization server's dpop_signing_alg_values_supported, the gateway's challenge `algs`).
 * With no list at all, ES256. undefined: no common algorithm.
 */
export function chooseDpopAlg(...lists: (readonly string[] | undefined)[]): DpopAlg | undefined {
  const given = lists.filter((l): l is readonly string[] => Array.isArray(l));
  // oidc-provider and RFC 9864 spell Ed25519 as its own alg name beside EdDSA.
  const accepts = (list: readonly string[], alg: DpopAlg): boolean => list.includes(alg) || (alg === 'EdDSA' && list.includes('Ed25519'));
  return DPOP_ALGS.find((alg) => given.every((list) => accepts(list, alg)));
}

/** Every secret member of a stored key, for the log redactor. */
export function dpopKeySecrets(key: StoredDpopKey | undefined): string[] {
  if (!key) return [];
  const jwk = key.privateJwk as Record<string, string>;
  return ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((k) => jwk[k]).filter((v): v is string => typeof v === 'string');
}

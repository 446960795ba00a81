import { createHash, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { Clock } from '../../deps.js';
import { publicJwkOf, type StoredDpopKey } from './dpopKey.js';

/** What one proof is for (RFC 9449 §4.2). */
export interface ProofRequest {
  key: StoredDpopKey;
  /** The HTTP method of the request the proof goes with. */
  htm: string;
  /** The request URL; the proof's htu is it without query and fragment. */
  url: URL;
  /** The access token presented with the request: its hash goes in `ath` (§4.2, requests to a resource). */
  accessToken?: string;
  /** A nonce the server provided (§8, §9). */
  nonce?: string;
}

interface PreparedKey {
  key: KeyObject;
  /** base64url of the proof's JOSE header, the same for every proof of this key. */
  header: string;
  /** node:crypto digest name and signature encoding for the JWS alg (RFC 7518 §3.4: ES256 is r||s). */
  digest: string | null;
  dsaEncoding?: 'ieee-p1363';
}

/** How many keys stay imported: a process uses one per profile, rarely more than a few. */
const MAX_KEYS = 8;

/**
 * Signs the DPoP proofs that go with requests to the MCP gateway. Each proof is fresh (a new
 * jti, the current iat); the imported key, the JOSE header and the token's `ath` are computed
 * once, so a proof costs one ECDSA signature (tens of microseconds for ES256). Proofs for the
 * authorization server are openid-client's (src/auth/dpop/dpopGrant.ts) — same key, same rules.
 */
export class DpopProofSigner {
  private readonly keys = new Map<string, PreparedKey>();
  private lastAth: { token: string; ath: string } | undefined;

  constructor(private readonly clock: Clock) {}

  /** A compact JWS `typ: dpop+jwt` for this request. */
  proof(req: ProofRequest): string {
    const prepared = this.prepare(req.key);
    const claims: Record<string, string | number> = {
      jti: randomUUID(),
      htm: req.htm,
      htu: htuOf(req.url),
      iat: Math.floor(this.clock.now() / 1000),
    };
    if (req.accessToken !== undefined) claims.ath = this.ath(req.accessToken);
    if (req.nonce !== undefined) claims.nonce = req.nonce;
    const input = `${prepared.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = sign(prepared.digest, Buffer.from(input), prepared.dsaEncoding ? { key: prepared.key, dsaEncoding: prepared.dsaEncoding } : prepared.key);
    return `${input}.${signature.toString('base64url')}`;
  }

  /** §4.2 ath: base64url SHA-256 of the ASCII access token; the token changes only on refresh. */
  private ath(token: string): string {
    if (this.lastAth?.token !== token) this.lastAth = { token, ath: createHash('sha256').update(token, 'ascii').digest('base64url') };
    return this.lastAth.ath;
  }

  private prepare(stored: StoredDpopKey): PreparedKey {
    const known = this.keys.get(stored.jkt);
    if (known) return known;
    const key = createPrivateKey({ key: stored.privateJwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
    // §4.2: typ, alg and the public key; EdDSA as RFC 8037 names it, which every DPoP server accepts.
    const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: stored.alg, jwk: publicJwkOf(stored.privateJwk) })).toString('base64url');
    const prepared: PreparedKey =
      stored.alg === 'ES256'
        ? { key, header, digest: 'sha256', dsaEncoding: 'ieee-p1363' }
        : stored.alg === 'EdDSA'
          ? { key, header, digest: null }
          : { key, header, digest: 'sha256' };
    if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(stored.jkt, prepared);
    return prepared;
  }
}

/** §4.2 htu: the HTTP target URI without query and fragment parts. */
export function htuOf(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

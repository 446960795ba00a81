import { constants, createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';

/**
 * The lab gateway's DPoP checks (RFC 9449 §4.3 and §7): a code path of its own, independent of the
 * bridge's signer (header and thumbprint by jose, the signature checked here). Imported keys and
 * their thumbprints are cached, as a resource server would, so the check costs one verification.
 */

/** How the lab gateway treats DPoP. */
export interface GatewayDpopOptions {
  /** Demand a nonce of its own in every proof (RFC 9449 §9): 401 use_dpop_nonce + DPoP-Nonce otherwise. */
  nonce?: boolean;
  /** Refuse access tokens that are not DPoP-bound (no cnf.jkt). */
  requireBound?: boolean;
  /** Seconds either side of now a proof's iat may be (default 60). */
  iatWindowS?: number;
}

/** What the gateway saw, for tests. */
export interface DpopRecord {
  /** Proofs accepted. */
  accepted: number;
  /** 401 use_dpop_nonce answers sent. */
  nonceChallenges: number;
  /** Why proofs or presentations were refused. */
  refusals: string[];
}

/** Asymmetric JWS algorithms only (RFC 9449 §4.2: not none, not a MAC). */
const PROOF_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'];
/** How many jti values the replay check remembers (the lab is short-lived). */
const MAX_JTIS = 10_000;
/** How many proof keys stay imported. */
const MAX_KEYS = 64;

/** node:crypto verify parameters per JWS alg (RFC 7518 §3). */
function verifyParams(alg: string): { digest: string | null; options: { dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number } } {
  const bits = alg.slice(2);
  if (alg.startsWith('ES')) return { digest: `sha${bits}`, options: { dsaEncoding: 'ieee-p1363' } };
  if (alg.startsWith('PS')) return { digest: `sha${bits}`, options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 } };
  if (alg.startsWith('RS')) return { digest: `sha${bits}`, options: {} };
  return { digest: null, options: {} }; // EdDSA / Ed25519
}

export type DpopCheck = { ok: true } | { ok: false; error: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'invalid_token'; description: string; nonce?: string };

export class GatewayDpop {
  readonly record: DpopRecord = { accepted: 0, nonceChallenges: 0, refusals: [] };
  /** jti → iat (s): a proof is accepted once (RFC 9449 §11.1). */
  private readonly seen = new Map<string, number>();
  /** JSON of a proof's jwk → its imported key and RFC 7638 thumbprint. */
  private readonly keys = new Map<string, { key: KeyObject; jkt: string }>();
  private currentNonce = randomBytes(16).toString('base64url');

  constructor(readonly options: GatewayDpopOptions) {}

  /** The nonce a proof must carry now (nonce mode). */
  get nonce(): string {
    return this.currentNonce;
  }

  /** Issue a new nonce: proofs with the old one get a use_dpop_nonce challenge (as a server rotating them would). */
  rotateNonce(): string {
    this.currentNonce = randomBytes(16).toString('base64url');
    return this.currentNonce;
  }

  /** The challenge `algs` (RFC 9449 §7.1). */
  algs(): string {
    return 'ES256 EdDSA RS256 PS256';
  }

  /**
   * Check the proof that came with a DPoP-bound token: one well-formed dpop+jwt, signed by the
   * key of the token's cnf.jkt, for this method and URL, with ath of this token, recent, not
   * seen before, and carrying the current nonce in nonce mode.
   */
  async check(input: { proof: string | string[] | undefined; method: string; htu: string; token: string; jkt: unknown; nowS: number }): Promise<DpopCheck> {
    const outcome = await this.evaluate(input);
    if (outcome.ok) this.record.accepted += 1;
    else if (outcome.error === 'use_dpop_nonce') this.record.nonceChallenges += 1;
    else this.record.refusals.push(outcome.description);
    return outcome;
  }

  private async evaluate(input: { proof: string | string[] | undefined; method: string; htu: string; token: string; jkt: unknown; nowS: number }): Promise<DpopCheck> {
    const refuse = (description: string): DpopCheck => ({ ok: false, error: 'invalid_dpop_proof', description });
    if (typeof input.jkt !== 'string') return { ok: false, error: 'invalid_token', description: 'the token is not DPoP-bound (no cnf.jkt) but was presented with the DPoP scheme' };
    if (input.proof === undefined) return refuse('no DPoP proof');
    if (Array.isArray(input.proof) || input.proof.includes(',')) return refuse('more than one DPoP proof');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(input.proof);
    } catch {
      return refuse('the DPoP proof is not a JWS');
    }
    if (header.typ !== 'dpop+jwt') return refuse('typ is not dpop+jwt');
    if (!header.alg || !PROOF_ALGS.includes(header.alg)) return refuse(`alg ${String(header.alg)} is not an asymmetric signature algorithm`);
    const jwk = header.jwk as JWK | undefined;
    if (!jwk || typeof jwk !== 'object') return refuse('no jwk in the proof header');
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) return refuse('the proof header carries a private or symmetric key');
    let imported: { key: KeyObject; jkt: string };
    let claims: Record<string, unknown>;
    try {
      imported = await this.importKey(jwk);
      const [h, p, sig] = input.proof.split('.') as [string, string, string];
      const { digest, options } = verifyParams(header.alg);
      if (!verify(digest, Buffer.from(`${h}.${p}`), { key: imported.key, ...options }, Buffer.from(sig, 'base64url'))) return refuse('the proof signature does not verify');
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      return refuse(`the proof signature does not verify (${(error as Error).message})`);
    }
    if (typeof claims.jti !== 'string' || claims.jti.length < 8) return refuse('no usable jti');
    if (claims.htm !== input.method) return refuse(`htm ${String(claims.htm)} is not ${input.method}`);
    if (claims.htu !== input.htu) return refuse(`htu ${String(claims.htu)} is not ${input.htu}`);
    const window = this.options.iatWindowS ?? 60;
    if (typeof claims.iat !== 'number' || Math.abs(claims.iat - input.nowS) > window) return refuse('iat is not recent');
    const ath = createHash('sha256').update(input.token, 'ascii').digest('base64url');
    if (claims.ath !== ath) return refuse('ath does not match the access token');
    if (imported.jkt !== input.jkt) return refuse('the proof key is not the key the token is bound to (cnf.jkt)');
    if (this.options.nonce && claims.nonce !== this.currentNonce) {
      return { ok: false, error: 'use_dpop_nonce', description: 'a DPoP nonce from this server is required', nonce: this.currentNonce };
    }
    if (this.seen.has(claims.jti)) return refuse('the proof was already used (jti replay)');
    this.remember(claims.jti, claims.iat, input.nowS);
    return { ok: true };
  }

  private async importKey(jwk: JWK): Promise<{ key: KeyObject; jkt: string }> {
    const id = JSON.stringify(jwk);
    const known = this.keys.get(id);
    if (known) return known;
    const entry = { key: createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }), jkt: await calculateJwkThumbprint(jwk, 'sha256') };
    if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(id, entry);
    return entry;
  }

  private remember(jti: string, iat: number, nowS: number): void {
    const window = this.options.iatWindowS ?? 60;
    if (this.seen.size >= MAX_JTIS) {
      // Oldest first (insertion order, and iat is checked to be recent): stop at the first one still in the window.
      for (const [k, t] of this.seen) {
        if (t >= nowS - window) break;
        this.seen.delete(k);
      }
      if (this.seen.size >= MAX_JTIS) this.seen.delete(this.seen.keys().next().value as string);
    }
    this.seen.set(jti, iat);
  }
}

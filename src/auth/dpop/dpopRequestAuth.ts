import type { Clock } from '../../deps.js';
import { AuthRefusedError } from '../../errors.js';
import type { Challenge, RequestTarget } from '../../remote/remoteAuth.js';
import { bearerToken, type StoredSession } from '../tokenSet.js';
import { parseWwwAuthenticate } from '../wwwAuthenticate.js';
import { DpopProofSigner } from './dpopProofSigner.js';
import { ProofsSignedAhead, type Later } from './proofsSignedAhead.js';

/** Origins whose nonce is remembered; a bridge talks to one gateway. */
const MAX_NONCE_ORIGINS = 16;
/**
 * The last attempt of a request on which a nonce challenge is still answered: a sign-in (1),
 * a nonce (2), a rotated nonce (3). A server that keeps asking beyond that is not going to stop.
 */
const LAST_NONCE_ATTEMPT = 3;
/** RFC 9449 §8.1: nonce = 1*NQCHAR. */
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The Authorization value for a session: `DPoP <token>` when its tokens are bound (RFC 9449 §7.1), else Bearer. */
export function authorizationValue(session: StoredSession): string {
  return session.dpop ? `DPoP ${session.accessToken}` : `Bearer ${bearerToken(session)}`;
}

/**
 * The request side of DPoP for one auth session: the headers of each request to the gateway
 * (a fresh proof every time, with `ath` and the gateway's latest nonce; signed ahead, in the idle
 * time after the previous request, when the request is like the previous one), and the gateway's
 * nonce challenges (RFC 9449 §9: 401 `DPoP error="use_dpop_nonce"` with a DPoP-Nonce header),
 * remembered per origin. A DPoP-bound session never sends its token as Bearer.
 */
export class DpopRequestAuth {
  private readonly signer: ProofsSignedAhead;
  private readonly nonces = new Map<string, string>();

  /** `later` schedules the signing of the next proof (ProofsSignedAhead); tests pass their own. */
  constructor(clock: Clock, later?: Later) {
    this.signer = new ProofsSignedAhead(new DpopProofSigner(clock), clock, later);
  }

  /** Authorization, plus a DPoP proof for this very request when the session is DPoP-bound. */
  headersFor(session: StoredSession, target: RequestTarget): Record<string, string> {
    if (!session.dpop) return { authorization: `Bearer ${bearerToken(session)}` };
    const proof = this.signer.proof({
      key: session.dpop,
      htm: target.method,
      url: target.url,
      accessToken: session.accessToken,
      nonce: this.nonces.get(target.url.origin),
    });
    return { authorization: `DPoP ${session.accessToken}`, dpop: proof };
  }

  /**
   * True when the challenge is the gateway asking for a (new) nonce: it is remembered and the
   * request is to be replayed with a fresh proof. Throws when the gateway refuses the proof
   * itself, or keeps asking for nonces. False for every other challenge.
   */
  takeChallenge(challenge: Challenge, attempt: number, fallbackOrigin: string): boolean {
    if (challenge.status !== 401) return false;
    const dpop = parseWwwAuthenticate(challenge.wwwAuthenticate).find((c) => c.scheme === 'dpop');
    const error = dpop?.params.error;
    if (error === 'invalid_dpop_proof') {
      // A fresh sign-in cannot fix a proof the gateway will not accept (most often a clock far off).
      const why = dpop?.params.error_description ? `: ${dpop.params.error_description}` : '';
      throw new AuthRefusedError(`the gateway refused the DPoP proof (invalid_dpop_proof${why}); check that this machine's clock is right`, 'dpop_proof_refused');
    }
    if (error !== 'use_dpop_nonce') return false;
    const nonce = challenge.dpopNonce ?? undefined;
    if (nonce === undefined || !NONCE.test(nonce)) {
      throw new AuthRefusedError('the gateway asked for a DPoP nonce (use_dpop_nonce) but sent no usable DPoP-Nonce header', 'dpop_nonce_missing');
    }
    if (attempt > LAST_NONCE_ATTEMPT) {
      throw new AuthRefusedError('the gateway keeps asking for a new DPoP nonce for the same request', 'dpop_nonce_refused');
    }
    const origin = challenge.url?.origin ?? fallbackOrigin;
    this.nonces.delete(origin);
    if (this.nonces.size >= MAX_NONCE_ORIGINS) this.nonces.delete(this.nonces.keys().next().value as string);
    this.nonces.set(origin, nonce);
    return true;
  }
}

/**
 * Whether a stored session may be used under this profile's DPoP setting: with --no-dpop a
 * bound session is not (it cannot go out as Bearer), with --dpop an unbound one is not; either
 * way it reads as signed out, and the next sign-in replaces it.
 */
export function storedBindingFits(mode: 'auto' | 'require' | 'off' | undefined, session: StoredSession): boolean {
  if (mode === 'off') return session.dpop === undefined;
  if (mode === 'require') return session.dpop !== undefined;
  return true;
}

/**
 * What to add when a gateway keeps refusing DPoP-bound tokens without asking for DPoP at all:
 * its authorization server offers DPoP, but it may not understand it (RFC 9449 §7.1 challenges).
 */
export function dpopRefusalHint(session: StoredSession | undefined, wwwAuthenticate: string | null): string {
  if (!session?.dpop) return '';
  if (parseWwwAuthenticate(wwwAuthenticate).some((c) => c.scheme === 'dpop')) return '';
  return '; the tokens are DPoP-bound because the authorization server offers DPoP, and the gateway does not ask for DPoP: if it does not support it, sign in with --no-dpop';
}

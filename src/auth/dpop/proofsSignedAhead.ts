import type { Clock } from '../../deps.js';
import { htuOf, type DpopProofSigner, type ProofRequest } from './dpopProofSigner.js';

/**
 * How long a proof signed ahead stays usable. Its iat is the time it was signed; servers accept
 * proofs whose iat is within a window of their clock (RFC 9449 §11.1; seconds to minutes), so a
 * proof one second old is as good as one signed on the spot. Older ones are dropped.
 */
export const AHEAD_MAX_AGE_MS = 1_000;

/** When to sign the next proof: once the request this proof goes with is on the wire. */
export type Later = (task: () => void) => void;

/**
 * A timer, not an immediate: the HTTP client writes a request one immediate after it was given
 * its headers (socketHttpClient.ts checks a kept-alive connection one turn later), so a signature
 * queued as an immediate would run first and delay the very request it was meant to stay out of
 * the way of (measured: +0.26 ms between the bridge reading the call and writing the request).
 * Unref'd: a proof signed ahead never keeps the process alive.
 */
const afterTheWrite: Later = (task) => {
  setTimeout(task, 1).unref();
};

interface Ahead {
  proof: string;
  signedAt: number;
  /** The request it was signed for. */
  req: ProofRequest;
}

/**
 * A proof signer that, each time it hands out a proof, signs the next one for a request of the
 * same shape (key, method, URL, token, nonce) once the request is written: while the gateway
 * works on this request, the bridge is idle, and the next request finds its proof ready. The
 * signature (the whole of DPoP's cost in the bridge, ~0.1 ms cold) leaves the call's path.
 *
 * Every proof is still handed out once (a fresh jti each), only for exactly the request it was
 * made for, and at most AHEAD_MAX_AGE_MS after it was signed; anything else is signed on the spot.
 * One proof at most waits at a time, and only in this process's memory, as the key does.
 */
export class ProofsSignedAhead {
  private ahead: Ahead | undefined;
  private pending = false;

  constructor(
    private readonly signer: DpopProofSigner,
    private readonly clock: Clock,
    private readonly later: Later = afterTheWrite,
  ) {}

  proof(req: ProofRequest): string {
    const ready = this.take(req);
    const proof = ready ?? this.signer.proof(req);
    this.signNext(req);
    return proof;
  }

  /** The proof waiting for this request, if it fits and is fresh; it is used up either way. */
  private take(req: ProofRequest): string | undefined {
    const ahead = this.ahead;
    if (!ahead) return undefined;
    this.ahead = undefined;
    const age = this.clock.now() - ahead.signedAt;
    if (age < 0 || age > AHEAD_MAX_AGE_MS) return undefined;
    return sameShape(ahead.req, req) ? ahead.proof : undefined;
  }

  private signNext(req: ProofRequest): void {
    if (this.pending) return;
    this.pending = true;
    // The request's fields now, not later: a refresh or a new nonce must not reach a proof made for this shape.
    const next: ProofRequest = { ...req };
    this.later(() => {
      this.pending = false;
      if (this.ahead) return;
      try {
        const signedAt = this.clock.now();
        const proof = this.signer.proof(next);
        this.ahead = { proof, signedAt, req: next };
      } catch {
        // Signing ahead is an optimisation: the next request signs on the spot and reports any error.
      }
    });
  }
}

/** Whether a proof made for `a` is one for `b`: same key, method, htu, token and nonce. */
function sameShape(a: ProofRequest, b: ProofRequest): boolean {
  return (
    a.key.jkt === b.key.jkt &&
    a.htm === b.htm &&
    htuOf(a.url) === htuOf(b.url) &&
    a.accessToken === b.accessToken &&
    a.nonce === b.nonce
  );
}

import { stat } from 'node:fs';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDpopKey } from '../../src/auth/dpop/dpopGrant.js';
import { DpopProofSigner, type ProofRequest } from '../../src/auth/dpop/dpopProofSigner.js';
import { AHEAD_MAX_AGE_MS, ProofsSignedAhead } from '../../src/auth/dpop/proofsSignedAhead.js';

const START = 1_900_000_000_000;

/** A DpopProofSigner that counts the proofs it signs. */
function countingSigner(clock: { now(): number }): { signer: DpopProofSigner; count(): number } {
  const inner = new DpopProofSigner(clock);
  let signed = 0;
  const signer = Object.assign(Object.create(inner) as DpopProofSigner, {
    proof: (req: ProofRequest) => {
      signed += 1;
      return inner.proof(req);
    },
  });
  return { signer, count: () => signed };
}

/** A signer whose "later" runs when the test says, on a clock the test moves. */
async function rig() {
  const clock = { t: START, now: () => clock.t };
  const queue: (() => void)[] = [];
  const counting = countingSigner(clock);
  const signer = new ProofsSignedAhead(counting.signer, clock, (task) => queue.push(task));
  const key = await createDpopKey('ES256');
  const req: ProofRequest = { key, htm: 'POST', url: new URL('http://127.0.0.1:1/mcp'), accessToken: 'token-1' };
  const runLater = (): void => {
    for (const task of queue.splice(0)) task();
  };
  return { clock, signer, key, req, runLater, signedCount: counting.count, queued: () => queue.length };
}

const claims = (proof: string) => decodeJwt(proof) as { jti: string; htm: string; htu: string; iat: number; ath?: string; nonce?: string };

describe('DPoP proofs signed ahead', () => {
  it('hands the next request of the same shape the proof signed after the previous one, once', async () => {
    const { signer, req, runLater, signedCount } = await rig();
    const first = signer.proof(req);
    expect(signedCount()).toBe(1);
    runLater();
    expect(signedCount()).toBe(2);
    const second = signer.proof(req);
    expect(signedCount()).toBe(2); // nothing signed on the spot
    expect(second).not.toBe(first);
    expect(claims(second).jti).not.toBe(claims(first).jti);
    // The one signed ahead is gone: without the later task having run, the next is signed now.
    const third = signer.proof(req);
    expect(signedCount()).toBe(3);
    expect(new Set([first, second, third].map((p) => claims(p).jti)).size).toBe(3);
  });

  it('signs ahead a proof that verifies and is for exactly that request', async () => {
    const { signer, req, runLater } = await rig();
    signer.proof(req);
    runLater();
    const proof = signer.proof(req);
    const header = decodeProtectedHeader(proof);
    const { payload } = await jwtVerify(proof, await importJWK(header.jwk!, 'ES256'), { currentDate: new Date(START) });
    expect(payload).toMatchObject({ htm: 'POST', htu: 'http://127.0.0.1:1/mcp', iat: START / 1000 });
    expect(typeof payload.ath).toBe('string');
  });

  it.each([
    ['another method', (r: ProofRequest): ProofRequest => ({ ...r, htm: 'GET' })],
    ['another URL', (r: ProofRequest): ProofRequest => ({ ...r, url: new URL('http://127.0.0.1:1/other') })],
    ['a refreshed token', (r: ProofRequest): ProofRequest => ({ ...r, accessToken: 'token-2' })],
    ['a new nonce', (r: ProofRequest): ProofRequest => ({ ...r, nonce: 'n-2' })],
  ])('signs on the spot for %s', async (_what, change) => {
    const { signer, req, runLater, signedCount } = await rig();
    signer.proof(req);
    runLater();
    const other = change(req);
    const proof = signer.proof(other);
    expect(signedCount()).toBe(3);
    const c = claims(proof);
    expect(c.htm).toBe(other.htm);
    expect(c.htu).toBe(`${other.url.origin}${other.url.pathname}`);
    expect(c.nonce).toBe(other.nonce);
  });

  it('signs on the spot for another key', async () => {
    const { signer, req, runLater, signedCount } = await rig();
    signer.proof(req);
    runLater();
    const key = await createDpopKey('ES256');
    const proof = signer.proof({ ...req, key });
    expect(signedCount()).toBe(3);
    expect(decodeProtectedHeader(proof).jwk).toMatchObject({ x: (key.privateJwk as { x: string }).x });
  });

  it('drops a proof signed ahead once it is older than the limit, or when the clock went back', async () => {
    const { clock, signer, req, runLater, signedCount } = await rig();
    signer.proof(req);
    runLater();
    clock.t += AHEAD_MAX_AGE_MS + 1;
    const late = signer.proof(req);
    expect(signedCount()).toBe(3);
    expect(claims(late).iat).toBe(Math.floor(clock.t / 1000));
    runLater();
    clock.t -= 5_000;
    signer.proof(req);
    expect(signedCount()).toBe(5);
  });

  it('keeps one proof at most waiting, whatever the number of requests in one turn', async () => {
    const { signer, req, runLater, signedCount, queued } = await rig();
    for (let i = 0; i < 16; i++) signer.proof(req);
    expect(queued()).toBe(1);
    runLater();
    expect(signedCount()).toBe(17);
  });

  it('signs ahead with the fields of the request as they were, not as the caller later changed them', async () => {
    const { signer, req, runLater } = await rig();
    const mutable = { ...req };
    signer.proof(mutable);
    mutable.accessToken = 'token-2';
    runLater();
    const proof = signer.proof({ ...req, accessToken: 'token-2' });
    // Signed on the spot for token-2: the proof made ahead was for token-1 and is not handed out.
    const ath2 = claims(proof).ath;
    const fresh = new ProofsSignedAhead(new DpopProofSigner({ now: () => START }), { now: () => START }, () => undefined);
    expect(ath2).toBe(claims(fresh.proof({ ...req, accessToken: 'token-2' })).ath);
  });

  it('by default signs ahead only after the immediate in which the HTTP client writes the request', async () => {
    const clock = { now: () => Date.now() };
    const counting = countingSigner(clock);
    const signed = counting.count;
    const signer = new ProofsSignedAhead(counting.signer, clock);
    const { req } = await rig();
    // As in the bridge: the proof is asked for in an I/O callback, and the request is written one immediate later.
    const atTheWrite = await new Promise<number>((resolve) => {
      stat('.', () => {
        signer.proof(req);
        setImmediate(() => resolve(signed()));
      });
    });
    expect(atTheWrite).toBe(1);
    for (let i = 0; i < 200 && signed() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(signed()).toBe(2);
    signer.proof(req);
    expect(signed()).toBe(2); // the one signed ahead was used
  });
});

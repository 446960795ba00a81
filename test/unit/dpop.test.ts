import { decodeProtectedHeader, importJWK, jwtVerify, calculateJwkThumbprint } from 'jose';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { createDpopKey } from '../../src/auth/dpop/dpopGrant.js';
import { chooseDpopAlg, jwkThumbprint, parseStoredDpopKey, publicJwkOf, type StoredDpopKey } from '../../src/auth/dpop/dpopKey.js';
import { DpopProofSigner } from '../../src/auth/dpop/dpopProofSigner.js';
import { authorizationValue, dpopRefusalHint, DpopRequestAuth, storedBindingFits } from '../../src/auth/dpop/dpopRequestAuth.js';
import { parseStoredSession, sessionFromTokenResponse, type SessionContext, type StoredSession } from '../../src/auth/tokenSet.js';
import { parseBearerChallenge } from '../../src/auth/wwwAuthenticate.js';
import { AuthRefusedError } from '../../src/errors.js';
import { createHash } from 'node:crypto';

const NOW = 1_900_000_000_000;
const clock = { now: () => NOW };

describe('DPoP key', () => {
  it('computes the RFC 7638 §3.1 example thumbprint', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(jwkThumbprint({ kty: 'RSA', n, e: 'AQAB' })).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('makes a %s key whose thumbprint matches jose and openid-client', async (alg) => {
    const key = await createDpopKey(alg);
    expect(key.alg).toBe(alg);
    expect(key.jkt).toBe(await calculateJwkThumbprint(publicJwkOf(key.privateJwk), 'sha256'));
    expect(parseStoredDpopKey(JSON.parse(JSON.stringify(key)))).toEqual(key);
    const pub = await crypto.subtle.importKey('jwk', publicJwkOf(key.privateJwk), alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']);
    const priv = await crypto.subtle.importKey('jwk', key.privateJwk, alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    const handle = client.getDPoPHandle(new client.Configuration({ issuer: 'https://as.example' }, 'c'), { publicKey: pub, privateKey: priv });
    expect(await handle.calculateThumbprint()).toBe(key.jkt);
  });

  it('refuses a stored key whose thumbprint does not match, or that lacks its private part', async () => {
    const key = await createDpopKey('ES256');
    expect(parseStoredDpopKey({ ...key, jkt: key.jkt.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) })).toBeUndefined();
    expect(parseStoredDpopKey({ ...key, privateJwk: publicJwkOf(key.privateJwk) })).toBeUndefined();
    expect(parseStoredDpopKey({ ...key, alg: 'HS256' })).toBeUndefined();
  });

  it('chooses ES256, then EdDSA, then RS256, among what every list accepts', () => {
    expect(chooseDpopAlg()).toBe('ES256');
    expect(chooseDpopAlg(['RS256', 'ES256'])).toBe('ES256');
    expect(chooseDpopAlg(['Ed25519', 'RS256'])).toBe('EdDSA');
    expect(chooseDpopAlg(['ES256', 'RS256'], ['RS256'])).toBe('RS256');
    expect(chooseDpopAlg(['PS256'])).toBeUndefined();
    expect(chooseDpopAlg([])).toBeUndefined();
  });
});

describe('DPoP proof signer', () => {
  it.each(['ES256', 'EdDSA', 'RS256'] as const)('signs a %s proof that verifies with the embedded public key (RFC 9449 §4.2)', async (alg) => {
    const key = await createDpopKey(alg);
    const signer = new DpopProofSigner(clock);
    const token = 'eyJ.access-token.value';
    const proof = signer.proof({ key, htm: 'POST', url: new URL('https://gw.example:8443/mcp?x=1#frag'), accessToken: token, nonce: 'n-1' });
    const header = decodeProtectedHeader(proof);
    expect(header.typ).toBe('dpop+jwt');
    expect(header.alg).toBe(alg);
    expect(header.jwk).toEqual(publicJwkOf(key.privateJwk));
    expect((header.jwk as Record<string, unknown>).d).toBeUndefined();
    const { payload } = await jwtVerify(proof, await importJWK(header.jwk!, alg), { currentDate: new Date(NOW) });
    expect(payload).toMatchObject({
      htm: 'POST',
      htu: 'https://gw.example:8443/mcp',
      iat: NOW / 1000,
      nonce: 'n-1',
      ath: createHash('sha256').update(token).digest('base64url'),
    });
    expect(typeof payload.jti).toBe('string');
  });

  it('makes every proof fresh (a new jti) and leaves ath out without a token', async () => {
    const key = await createDpopKey('ES256');
    const signer = new DpopProofSigner(clock);
    const url = new URL('http://127.0.0.1:1/mcp');
    const jtis = new Set(Array.from({ length: 50 }, () => (JSON.parse(Buffer.from(signer.proof({ key, htm: 'GET', url }).split('.')[1]!, 'base64url').toString()) as { jti: string; ath?: string }).jti));
    expect(jtis.size).toBe(50);
    const claims = JSON.parse(Buffer.from(signer.proof({ key, htm: 'GET', url }).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims.ath).toBeUndefined();
    expect(claims.nonce).toBeUndefined();
  });
});

function session(over: Partial<StoredSession> = {}): StoredSession {
  return {
    version: 1,
    server: 'http://127.0.0.1:1/mcp',
    issuer: 'http://127.0.0.1:2',
    clientId: 'c',
    clientSource: 'dynamic',
    tokenEndpoint: 'http://127.0.0.1:2/token',
    accessToken: 'access-token-value',
    tokenType: 'Bearer',
    obtainedAt: NOW,
    ...over,
  };
}

describe('DPoP request headers and nonce challenges', () => {
  it('sends a bound session as DPoP with a proof, an unbound one as Bearer', async () => {
    const key = await createDpopKey('ES256');
    const auth = new DpopRequestAuth(clock);
    const target = { method: 'POST' as const, url: new URL('http://127.0.0.1:1/mcp') };
    expect(auth.headersFor(session(), target)).toEqual({ authorization: 'Bearer access-token-value' });
    const bound = session({ dpop: key, tokenType: 'DPoP' });
    const headers = auth.headersFor(bound, target);
    expect(headers.authorization).toBe('DPoP access-token-value');
    expect(headers.dpop?.split('.')).toHaveLength(3);
    expect(authorizationValue(bound)).toBe('DPoP access-token-value');
  });

  it('takes a use_dpop_nonce challenge, puts the nonce in the next proof for that origin only, and stops after a few', async () => {
    const key = await createDpopKey('ES256');
    const auth = new DpopRequestAuth(clock);
    const url = new URL('http://127.0.0.1:1/mcp');
    const challenge = { status: 401, wwwAuthenticate: 'DPoP error="use_dpop_nonce", algs="ES256"', dpopNonce: 'abc-123', url };
    expect(auth.takeChallenge(challenge, 1, url.origin)).toBe(true);
    const nonceOf = (u: URL): unknown => JSON.parse(Buffer.from(auth.headersFor(session({ dpop: key }), { method: 'POST', url: u }).dpop!.split('.')[1]!, 'base64url').toString()).nonce;
    expect(nonceOf(url)).toBe('abc-123');
    expect(nonceOf(new URL('http://127.0.0.1:9/mcp'))).toBeUndefined();
    expect(() => auth.takeChallenge(challenge, 4, url.origin)).toThrow(AuthRefusedError);
    expect(() => auth.takeChallenge({ ...challenge, dpopNonce: null }, 1, url.origin)).toThrow(/DPoP-Nonce/);
    expect(() => auth.takeChallenge({ ...challenge, dpopNonce: 'bad nonce"' }, 1, url.origin)).toThrow(/DPoP-Nonce/);
  });

  it('refuses for good on invalid_dpop_proof, and leaves other challenges to the sign-in logic', () => {
    const auth = new DpopRequestAuth(clock);
    expect(() => auth.takeChallenge({ status: 401, wwwAuthenticate: 'DPoP error="invalid_dpop_proof", error_description="iat too old"' }, 1, 'http://x')).toThrow(/iat too old/);
    expect(auth.takeChallenge({ status: 401, wwwAuthenticate: 'Bearer error="invalid_token"', dpopNonce: 'n' }, 1, 'http://x')).toBe(false);
    expect(auth.takeChallenge({ status: 401, wwwAuthenticate: 'DPoP error="invalid_token"', dpopNonce: 'n' }, 1, 'http://x')).toBe(false);
    expect(auth.takeChallenge({ status: 403, wwwAuthenticate: 'DPoP error="use_dpop_nonce"', dpopNonce: 'n' }, 1, 'http://x')).toBe(false);
  });

  it('reads a DPoP-only challenge for its resource metadata and algs', () => {
    expect(parseBearerChallenge('DPoP algs="ES256 EdDSA", resource_metadata="http://r.example/prm"')).toEqual({
      resourceMetadata: 'http://r.example/prm',
      dpopAlgs: ['ES256', 'EdDSA'],
      dpopOnly: true,
    });
  });

  it('matches a stored session to --dpop / --no-dpop', async () => {
    const bound = session({ dpop: await createDpopKey('ES256'), tokenType: 'DPoP' });
    expect(storedBindingFits('off', bound)).toBe(false);
    expect(storedBindingFits('require', session())).toBe(false);
    expect(storedBindingFits('auto', bound) && storedBindingFits('auto', session()) && storedBindingFits('require', bound) && storedBindingFits('off', session())).toBe(true);
  });
});

describe('token responses and DPoP (RFC 9449 §5)', () => {
  const ctx: SessionContext = { server: 'http://127.0.0.1:1/mcp', issuer: 'http://127.0.0.1:2', clientId: 'c', clientSource: 'dynamic', tokenEndpoint: 'http://127.0.0.1:2/token' };
  const resp = (tokenType: string) => ({ access_token: 'at-123456', token_type: tokenType, expires_in: 60, refresh_token: 'rt-123456', claims: () => undefined });

  it('keeps the key with a DPoP token, and drops it when the server chose Bearer (auto)', async () => {
    const key = await createDpopKey('ES256');
    const bound = sessionFromTokenResponse(resp('DPoP'), { ...ctx, dpop: key }, NOW);
    expect(bound.tokenType).toBe('DPoP');
    expect(bound.dpop).toEqual(key);
    expect(parseStoredSession(JSON.parse(JSON.stringify(bound)))).toEqual(bound);
    const unbound = sessionFromTokenResponse(resp('Bearer'), { ...ctx, dpop: key }, NOW);
    expect(unbound.tokenType).toBe('Bearer');
    expect(unbound.dpop).toBeUndefined();
    expect('dpopRequired' in unbound).toBe(false);
  });

  it('refuses a Bearer answer under --dpop and to a refresh of bound tokens, and a DPoP token nobody asked for', async () => {
    const key = await createDpopKey('ES256');
    expect(() => sessionFromTokenResponse(resp('Bearer'), { ...ctx, dpop: key, dpopRequired: true }, NOW)).toThrow(/--dpop/);
    const previous = sessionFromTokenResponse(resp('DPoP'), { ...ctx, dpop: key }, NOW);
    expect(() => sessionFromTokenResponse(resp('bearer'), { ...ctx, dpop: key }, NOW, previous)).toThrow(/downgrade/);
    expect(() => sessionFromTokenResponse(resp('DPoP'), ctx, NOW)).toThrow(/no DPoP proof/);
  });

  it('reads a DPoP-typed record without a usable key as signed out', async () => {
    const key = await createDpopKey('ES256');
    const bound = JSON.parse(JSON.stringify(sessionFromTokenResponse(resp('DPoP'), { ...ctx, dpop: key }, NOW))) as Record<string, unknown>;
    expect(parseStoredSession({ ...bound, dpop: undefined })).toBeUndefined();
    expect(parseStoredSession({ ...bound, dpop: { ...key, jkt: 'x' } })).toBeUndefined();
  });
});

describe('DPoP refusal hint', () => {
  it('suggests --no-dpop only for a bound session refused by a gateway that does not speak DPoP', async () => {
    const bound = session({ dpop: await createDpopKey('ES256'), tokenType: 'DPoP' });
    expect(dpopRefusalHint(bound, 'Bearer error="invalid_token"')).toMatch(/--no-dpop/);
    expect(dpopRefusalHint(bound, 'Bearer error="invalid_token", DPoP algs="ES256"')).toBe('');
    expect(dpopRefusalHint(session(), 'Bearer error="invalid_token"')).toBe('');
  });
});

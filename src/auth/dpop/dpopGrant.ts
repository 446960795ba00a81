import { webcrypto } from 'node:crypto';
import * as client from 'openid-client';
import { AuthRefusedError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { AuthOptions } from '../options.js';
import type { BearerChallenge } from '../wwwAuthenticate.js';
import { chooseDpopAlg, jwkThumbprint, publicJwkOf, toPrivateJwk, type DpopAlg, type StoredDpopKey } from './dpopKey.js';

/** The DPoP key a grant binds its tokens to, and whether a Bearer answer is to be refused. */
export interface DpopBinding {
  key: StoredDpopKey;
  /** The user asked for DPoP (--dpop): a Bearer answer fails instead of being kept unbound. */
  required: boolean;
}

/** What decides whether and how a grant uses DPoP. */
export interface DpopDecisionInput {
  options: Pick<AuthOptions, 'dpop' | 'useIdToken'>;
  /** The authorization server's dpop_signing_alg_values_supported (undefined: not advertised, or no metadata). */
  serverAlgs?: readonly string[];
  /** The gateway's challenge that led here, if any (its DPoP `algs`, and whether it offers Bearer at all). */
  challenge?: BearerChallenge;
  /** A key to keep when it still fits (machine sessions fetch new tokens for the same key). */
  reuse?: StoredDpopKey;
  log: Logger;
}

/**
 * Whether this grant uses DPoP (RFC 9449), and with which key: with --dpop always; with
 * --no-dpop never; otherwise when the authorization server advertises
 * dpop_signing_alg_values_supported (§5.1), or when the gateway challenges with DPoP only.
 * The ID token as bearer (--use-id-token) cannot be bound, so it never uses DPoP.
 * A new key is made for each sign-in: signing in again after a suspected leak also replaces the key.
 */
export async function dpopBindingFor(input: DpopDecisionInput): Promise<DpopBinding | undefined> {
  const mode = input.options.dpop ?? 'auto';
  if (mode === 'off' || input.options.useIdToken) return undefined;
  const gatewayWantsDpop = input.challenge?.dpopOnly === true;
  if (mode === 'auto' && input.serverAlgs === undefined && !gatewayWantsDpop) return undefined;
  const alg = chooseDpopAlg(input.serverAlgs, input.challenge?.dpopAlgs);
  if (!alg) {
    const offered = [...(input.serverAlgs ?? []), ...(input.challenge?.dpopAlgs ?? [])].join(', ');
    if (mode === 'require') {
      throw new AuthRefusedError(`--dpop: the server signs DPoP proofs only with ${offered}; this bridge signs with ES256, EdDSA or RS256`, 'dpop_alg_unsupported');
    }
    input.log.warn(`the authorization server offers DPoP only with ${offered}, which this bridge does not sign with; using Bearer tokens`);
    return undefined;
  }
  const required = mode === 'require';
  if (input.reuse && chooseDpopAlg(input.serverAlgs, input.challenge?.dpopAlgs, [input.reuse.alg]) === input.reuse.alg) {
    return { key: input.reuse, required };
  }
  return { key: await createDpopKey(alg), required };
}

/** A new key pair (openid-client's randomDPoPKeyPair), exported once to be kept in the token store. */
export async function createDpopKey(alg: DpopAlg): Promise<StoredDpopKey> {
  const pair = await client.randomDPoPKeyPair(alg, { extractable: true });
  const exported = (await webcrypto.subtle.exportKey('jwk', pair.privateKey)) as Record<string, unknown>;
  const privateJwk = toPrivateJwk(exported, alg);
  if (!privateJwk) throw new AuthRefusedError(`could not export the new ${alg} DPoP key`, 'dpop_key_export');
  return { alg, jkt: jwkThumbprint(privateJwk), privateJwk };
}

/** WebCrypto import parameters per DPoP alg. */
function subtleAlgorithm(alg: DpopAlg): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm {
  switch (alg) {
    case 'ES256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'EdDSA':
      return { name: 'Ed25519' };
    case 'RS256':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

/**
 * The openid-client options that make a token request carry a DPoP proof (and, on a
 * `use_dpop_nonce` answer, retry once with the server's nonce — openid-client does that).
 * The private key is imported non-extractable; openid-client needs the public one extractable.
 */
export async function grantDpopOptions(config: client.Configuration, binding: DpopBinding | undefined, serverAlgs?: readonly string[]): Promise<client.DPoPOptions | undefined> {
  if (!binding) return undefined;
  const { key } = binding;
  const algorithm = subtleAlgorithm(key.alg);
  const privateKey = await webcrypto.subtle.importKey('jwk', key.privateJwk as webcrypto.JsonWebKey, algorithm, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('jwk', publicJwkOf(key.privateJwk) as webcrypto.JsonWebKey, algorithm, true, ['verify']);
  // openid-client names an Ed25519 proof "Ed25519" (RFC 9864); "EdDSA" (RFC 8037) is what most
  // servers list, so it is kept unless the server lists only the new name.
  const keepEd25519 = serverAlgs?.includes('Ed25519') === true && !serverAlgs.includes('EdDSA');
  const remap: client.ModifyAssertionOptions = {
    [client.modifyAssertion]: (header) => {
      if (header.alg === 'Ed25519' && !keepEd25519) header.alg = 'EdDSA';
    },
  };
  return { DPoP: client.getDPoPHandle(config, { privateKey, publicKey } as client.CryptoKeyPair, remap) };
}

/**
 * One DPoP handle per key for a long-lived owner (the refresher of a session), so the nonce the
 * authorization server gave for the last refresh goes with the next one instead of costing a
 * `use_dpop_nonce` round trip each time (openid-client keeps nonces per origin in its handle).
 */
export class DpopHandleCache {
  private held: { jkt: string; options: Promise<client.DPoPOptions | undefined> } | undefined;

  /** The DPoP options for this binding: the cached handle when the key is the same. */
  optionsFor(config: client.Configuration, binding: DpopBinding | undefined): Promise<client.DPoPOptions | undefined> {
    if (!binding) return Promise.resolve(undefined);
    if (this.held?.jkt !== binding.key.jkt) {
      const held = { jkt: binding.key.jkt, options: grantDpopOptions(config, binding) };
      held.options.catch(() => {
        if (this.held === held) this.held = undefined;
      });
      this.held = held;
    }
    return this.held.options;
  }
}

/**
 * Enterprise-managed authorization for the lab (MCP extension "cross-app access"; the
 * Identity Assertion JWT Authorization Grant, draft-ietf-oauth-identity-assertion-authz-grant):
 *
 * - enterprise role: a token-exchange grant (RFC 8693) that takes an ID token this provider issued
 *   (subject_token) and answers an ID-JAG (typ oauth-id-jag+jwt) signed with this provider's key;
 * - resource AS role: a JWT bearer grant (RFC 7523 §2.1) that accepts an ID-JAG from a trusted
 *   enterprise IdP (verified against its JWKS) and issues an RFC 9068 access token for the resource.
 */
import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { createRemoteJWKSet, jwtVerify, SignJWT, type CryptoKey, type JWTVerifyGetKey } from 'jose';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYP = 'oauth-id-jag+jwt';
const ID_JAG_TTL_S = 300;

/** Lab options of the enterprise role. */
export interface IdJagIssuerOptions {
  /** client_id the ID-JAG names: the client's id at the resource authorization server. */
  resourceClientId: string;
}

/** Lab options of the resource authorization server role. */
export interface IdJagTrustOptions {
  /** The enterprise IdP whose ID-JAGs are accepted. */
  issuer: string;
  jwksUri: string;
}

export interface CrossAppRecord {
  /** Every ID-JAG issued (enterprise role). */
  idJagsIssued: string[];
  /** Every ID-JAG redeemed (resource AS role). */
  idJagsRedeemed: string[];
}

interface Signer {
  issuer: string;
  privateKey: CryptoKey;
  kid: string;
  localJwks: JWTVerifyGetKey;
}

function param(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const v = (ctx.oidc.params as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Register the token-exchange grant that turns this provider's ID tokens into ID-JAGs. */
export function registerIdJagIssuer(provider: Provider, signer: Signer, opts: IdJagIssuerOptions, record: CrossAppRecord): void {
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: KoaContextWithOIDC) => {
      if (param(ctx, 'requested_token_type') !== ID_JAG_TOKEN_TYPE) throw new errors.InvalidRequest('requested_token_type must be an ID-JAG');
      if (param(ctx, 'subject_token_type') !== ID_TOKEN_TYPE) throw new errors.InvalidRequest('subject_token_type must be an ID token');
      const audience = param(ctx, 'audience');
      if (!audience) throw new errors.InvalidRequest('audience (the resource authorization server issuer) is required');
      const clientId = ctx.oidc.client!.clientId;
      let sub: string;
      let email: unknown;
      try {
        // An ID token this provider issued to this very client (OIDC Core §2: aud contains client_id).
        const { payload, protectedHeader } = await jwtVerify(param(ctx, 'subject_token') ?? '', signer.localJwks, { issuer: signer.issuer, audience: clientId });
        if (protectedHeader.typ?.toLowerCase().endsWith('at+jwt')) throw new Error('an access token is not an ID token');
        sub = String(payload.sub);
        email = payload.email;
      } catch (err) {
        throw new errors.InvalidGrant(`subject_token is not a valid ID token: ${(err as Error).message}`);
      }
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = { client_id: opts.resourceClientId, jti: randomUUID(), sub };
      const resource = param(ctx, 'resource');
      const scope = param(ctx, 'scope');
      if (resource) claims.resource = resource;
      if (scope) claims.scope = scope;
      if (typeof email === 'string') claims.email = email;
      const jag = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: ID_JAG_TYP })
        .setIssuer(signer.issuer)
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + ID_JAG_TTL_S)
        .sign(signer.privateKey);
      record.idJagsIssued.push(jag);
      ctx.body = { access_token: jag, issued_token_type: ID_JAG_TOKEN_TYPE, token_type: 'N_A', expires_in: ID_JAG_TTL_S, ...(scope ? { scope } : {}) };
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'],
  );
}

/** Register the JWT bearer grant that redeems ID-JAGs from the trusted enterprise IdP for access tokens. */
export function registerIdJagRedeemer(
  provider: Provider,
  signer: Signer,
  opts: IdJagTrustOptions & { resource: string; accessTokenTtl: number },
  record: CrossAppRecord,
): void {
  const enterpriseJwks = createRemoteJWKSet(new URL(opts.jwksUri), { timeoutDuration: 5000 });
  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx: KoaContextWithOIDC) => {
      const assertion = param(ctx, 'assertion');
      const clientId = ctx.oidc.client!.clientId;
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(assertion ?? '', enterpriseJwks, {
          issuer: opts.issuer,
          audience: signer.issuer,
          typ: ID_JAG_TYP,
          requiredClaims: ['sub', 'exp', 'jti', 'client_id'],
        }));
      } catch (err) {
        throw new errors.InvalidGrant(`the assertion is not a valid ID-JAG from ${opts.issuer}: ${(err as Error).message}`);
      }
      if (payload.client_id !== clientId) throw new errors.InvalidGrant('the ID-JAG was issued for another client');
      const resource = param(ctx, 'resource') ?? (typeof payload.resource === 'string' ? payload.resource : opts.resource);
      if (resource !== opts.resource) throw new errors.InvalidTarget(`unknown resource ${resource}`);
      const scope = param(ctx, 'scope') ?? (typeof payload.scope === 'string' ? payload.scope : undefined);
      record.idJagsRedeemed.push(assertion!);
      const now = Math.floor(Date.now() / 1000);
      const accessToken = await new SignJWT({ client_id: clientId, jti: randomUUID(), ...(scope ? { scope } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: 'at+jwt' })
        .setIssuer(signer.issuer)
        .setSubject(String(payload.sub))
        .setAudience(resource)
        .setIssuedAt(now)
        .setExpirationTime(now + opts.accessTokenTtl)
        .sign(signer.privateKey);
      ctx.body = { access_token: accessToken, token_type: 'Bearer', expires_in: opts.accessTokenTtl, ...(scope ? { scope } : {}) };
    },
    ['assertion', 'scope', 'resource'],
  );
}

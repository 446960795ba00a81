import { unverifiedJwtClaims } from './assertionSource.js';
import type { Redactor } from '../log/redact.js';
import { AuthRefusedError } from '../errors.js';
import { dpopKeySecrets, parseStoredDpopKey, type StoredDpopKey } from './dpop/dpopKey.js';

/** Where a session's client identity came from (MCP authorization spec, "Client Registration Approaches"). */
export type ClientSource = 'pre-registered' | 'metadata-document' | 'dynamic';

/** The record kept in the token store for one profile (see profileKey). Times are absolute epoch ms. */
export interface StoredSession {
  version: 1;
  /** Canonical server URL. */
  server: string;
  /** The RFC 8707 resource the tokens were requested for (absent with --no-resource). */
  resource?: string;
  issuer: string;
  clientId: string;
  clientSource: ClientSource;
  /** How the client authenticates at the token endpoint (none for public clients). */
  tokenEndpointAuthMethod?: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** How the tokens were obtained (absent: authorization code); client_credentials sessions are machine access. */
  grant?: 'authorization_code' | 'device_code' | 'client_credentials' | 'jwt_bearer';
  /** Client credentials only: the client secret given at login, so a bridge can fetch new tokens without it. */
  clientSecret?: string;
  /** id_token: the ID token is the bearer sent to the gateway (--use-id-token), and expiresAt is its exp. */
  bearer?: 'id_token';
  tokenEndpoint: string;
  revocationEndpoint?: string;
  /** The AS's id_token_signing_alg_values_supported, so a refresh can validate an ID token without rediscovery. */
  idTokenSigningAlgs?: string[];
  scope?: string;
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** 'Bearer', or 'DPoP' when the tokens are bound to `dpop` (RFC 9449 §5: token_type DPoP). */
  tokenType: string;
  /** The key pair the tokens are bound to (RFC 9449); kept with them, so every bridge of the profile signs with it. */
  dpop?: StoredDpopKey;
  expiresAt?: number;
  subject?: string;
  email?: string;
  name?: string;
  obtainedAt: number;
}

/** The token endpoint answer fields we keep (a subset of openid-client's TokenEndpointResponse). */
export interface TokenResponseLike {
  access_token: string;
  token_type: string;
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
  claims(): Record<string, unknown> | undefined;
}

/** The session-independent context a token response is stored with. */
export type SessionContext = Pick<
  StoredSession,
  'server' | 'resource' | 'issuer' | 'clientId' | 'clientSource' | 'tokenEndpointAuthMethod' | 'tokenEndpoint' | 'revocationEndpoint' | 'idTokenSigningAlgs' | 'grant' | 'bearer' | 'dpop'
> & {
  /** The token request carried a DPoP proof because the user asked (--dpop): a Bearer answer is refused. */
  dpopRequired?: boolean;
};

/**
 * Build the stored record from a token response. `previous` (on refresh) supplies what the
 * AS may omit: a refresh token it did not rotate (RFC 6749 §6), the scope, the identity claims.
 */
export function sessionFromTokenResponse(
  resp: TokenResponseLike,
  ctx: SessionContext,
  now: number,
  previous?: StoredSession,
  requestedScope?: string,
): StoredSession {
  const { dpopRequired, dpop, ...context } = ctx;
  const bound = checkTokenType(resp.token_type, { dpop, dpopRequired, wasBound: previous?.dpop !== undefined });
  const claims = resp.claims();
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const session: StoredSession = {
    version: 1,
    ...context,
    accessToken: resp.access_token,
    tokenType: bound ? 'DPoP' : 'Bearer',
    obtainedAt: now,
  };
  if (bound) session.dpop = dpop;
  const scope = resp.scope ?? previous?.scope ?? requestedScope;
  if (scope) session.scope = scope;
  const refreshToken = resp.refresh_token ?? previous?.refreshToken;
  if (refreshToken) session.refreshToken = refreshToken;
  const idToken = resp.id_token ?? previous?.idToken;
  if (idToken) session.idToken = idToken;
  if (typeof resp.expires_in === 'number' && Number.isFinite(resp.expires_in)) {
    session.expiresAt = now + Math.max(0, resp.expires_in) * 1000;
  }
  if (ctx.bearer === 'id_token') {
    // The ID token is what the gateway gets, so it must be fresh from this very response (a kept
    // one from before a refresh would be stale), and its own exp decides when to renew
    // (OIDC Core §2: exp is REQUIRED; openid-client has validated the token and its claims).
    const exp = claims?.exp;
    if (!resp.id_token || typeof exp !== 'number') {
      throw new AuthRefusedError(
        'the authorization server issued no ID token, but --use-id-token sends the ID token to the gateway (is "openid" an allowed scope for this client?)',
        'no_id_token',
      );
    }
    session.expiresAt = exp * 1000;
  }
  // Who is signed in, for display and the audit log only (never for a decision): the ID token's
  // claims, else what a JWT access token says (many providers grant no openid scope to an MCP client).
  const fromAccessToken = claims ? undefined : accessTokenIdentity(resp.access_token);
  const subject = str(claims?.sub) ?? fromAccessToken?.subject ?? previous?.subject;
  if (subject) session.subject = subject;
  const email = str(claims?.email) ?? fromAccessToken?.email ?? previous?.email;
  if (email) session.email = email;
  const name = str(claims?.name) ?? fromAccessToken?.name ?? previous?.name;
  if (name) session.name = name;
  return dropUndefined(session);
}

/**
 * RFC 9449 §5: token_type DPoP means the tokens are bound to the proof's key; Bearer means the
 * server chose not to bind them (§5: it may). Returns true for bound tokens. A Bearer answer is
 * refused where the binding was asked for or held before: a bound session never turns Bearer.
 */
function checkTokenType(tokenType: string, ctx: { dpop?: StoredDpopKey; dpopRequired?: boolean; wasBound: boolean }): boolean {
  const type = tokenType.toLowerCase();
  if (type === 'dpop') {
    if (!ctx.dpop) throw new AuthRefusedError('the authorization server issued a DPoP-bound token to a request that carried no DPoP proof', 'unsupported_token_type');
    return true;
  }
  if (type !== 'bearer') {
    throw new AuthRefusedError(`the authorization server issued a "${tokenType}" token; only Bearer and DPoP tokens are supported`, 'unsupported_token_type');
  }
  if (ctx.dpop && ctx.wasBound) {
    throw new AuthRefusedError('the authorization server answered a refresh of DPoP-bound tokens with Bearer tokens; refusing to downgrade (sign in again)', 'dpop_downgrade');
  }
  if (ctx.dpop && ctx.dpopRequired) {
    throw new AuthRefusedError('--dpop: the authorization server issued a Bearer token although the request carried a DPoP proof (it does not bind tokens for this client); sign in without --dpop', 'dpop_not_bound');
  }
  return false;
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Validate a value read from the store; anything that is not a v1 session reads as "no session". */
export function parseStoredSession(value: unknown): StoredSession | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Partial<StoredSession>;
  if (v.version !== 1) return undefined;
  const required = [v.server, v.issuer, v.clientId, v.tokenEndpoint, v.accessToken, v.tokenType];
  if (required.some((x) => typeof x !== 'string' || x.length === 0)) return undefined;
  if (typeof v.obtainedAt !== 'number') return undefined;
  if (v.clientSource !== 'pre-registered' && v.clientSource !== 'metadata-document' && v.clientSource !== 'dynamic') return undefined;
  if (v.expiresAt !== undefined && typeof v.expiresAt !== 'number') return undefined;
  // A bound session without its key (or with a damaged one) cannot be used: it would go out as Bearer.
  const dpop = v.dpop === undefined ? undefined : parseStoredDpopKey(v.dpop);
  if (v.dpop !== undefined && !dpop) return undefined;
  if (v.tokenType!.toLowerCase() === 'dpop' && !dpop) return undefined;
  return (dpop ? { ...v, dpop } : v) as StoredSession;
}

/** True when the access token expires within skewMs (unknown expiry counts as valid). */
export function isExpiring(session: StoredSession, now: number, skewMs: number): boolean {
  return session.expiresAt !== undefined && session.expiresAt - skewMs <= now;
}

/** True when the access token is past its expiry. */
export function isExpired(session: StoredSession, now: number): boolean {
  return isExpiring(session, now, 0);
}

/** The token sent to the gateway as the bearer: the ID token with --use-id-token, else the access token. */
export function bearerToken(session: StoredSession): string {
  return session.bearer === 'id_token' && session.idToken ? session.idToken : session.accessToken;
}

/** Register every secret of a session with the log redactor. */
export function registerSessionSecrets(redactor: Redactor, session: StoredSession): void {
  redactor.addSecret(session.accessToken);
  redactor.addSecret(session.refreshToken);
  redactor.addSecret(session.idToken);
  redactor.addSecret(session.clientSecret);
  for (const secret of dpopKeySecrets(session.dpop)) redactor.addSecret(secret);
}

/**
 * The user a JWT access token names (RFC 9068 `sub`, or the `username` / `preferred_username` /
 * `email` claims Cognito, Keycloak and Entra use), decoded without verification: the gateway
 * verifies it; this is only what `status`, `login` and the audit log show.
 */
export function accessTokenIdentity(accessToken: string | undefined): { subject?: string; email?: string; name?: string } | undefined {
  const c = unverifiedJwtClaims(accessToken);
  if (!c) return undefined;
  const s = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const email = s(c.email);
  return { subject: s(c.sub) ?? s(c.username) ?? s(c.preferred_username) ?? email, email, name: s(c.name) ?? s(c.preferred_username) ?? s(c.username) };
}

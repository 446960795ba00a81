import type { Redactor } from '../log/redact.js';
import { AuthRefusedError } from '../errors.js';

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
  tokenType: string;
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
  'server' | 'resource' | 'issuer' | 'clientId' | 'clientSource' | 'tokenEndpointAuthMethod' | 'tokenEndpoint' | 'revocationEndpoint' | 'idTokenSigningAlgs' | 'grant' | 'bearer'
>;

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
  // Only bearer tokens are supported; a DPoP-bound token would be refused by every request we make.
  if (resp.token_type.toLowerCase() !== 'bearer') {
    throw new AuthRefusedError(`the authorization server issued a "${resp.token_type}" token; only Bearer tokens are supported`, 'unsupported_token_type');
  }
  const claims = resp.claims();
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const session: StoredSession = {
    version: 1,
    ...ctx,
    accessToken: resp.access_token,
    tokenType: 'Bearer',
    obtainedAt: now,
  };
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
  const subject = str(claims?.sub) ?? previous?.subject;
  if (subject) session.subject = subject;
  const email = str(claims?.email) ?? previous?.email;
  if (email) session.email = email;
  const name = str(claims?.name) ?? previous?.name;
  if (name) session.name = name;
  return dropUndefined(session);
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
  return v as StoredSession;
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
}

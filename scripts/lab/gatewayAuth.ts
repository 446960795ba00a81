import { timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { GatewayDpop, type GatewayDpopOptions } from './gatewayDpop.js';

/** How the lab gateway authenticates callers; swappable at run time with `Gateway.setAuth`. */
export type GatewayAuth =
  | { mode: 'none' }
  | { mode: 'static'; token: string }
  | {
      mode: 'jwt';
      issuer: string;
      jwksUri: string;
      audience: string;
      scopesSupported?: string[];
      requiredScopes?: string[];
      acceptIdToken?: boolean;
      /** tool name -> extra scope it demands (403 insufficient_scope step-up) */
      toolScopes?: Record<string, string>;
      /** Lab mode 'dpop': DPoP-bound tokens (RFC 9449) are accepted with a valid proof, and never as Bearer. */
      dpop?: GatewayDpopOptions;
    };

type JwtAuth = Extract<GatewayAuth, { mode: 'jwt' }>;

/** The claims subset the `whoami` tool reports, also kept in `AuthInfo.extra`. */
export interface TokenSummary {
  sub?: string;
  scope?: string;
  aud?: string | string[];
  token_kind?: 'access' | 'id';
}

export type AuthOutcome =
  | { ok: true; authInfo?: AuthInfo }
  | { ok: false; status: 401 | 403; wwwAuthenticate: string; error: string; description: string; headers?: Record<string, string> };

/** What a request presented: its Authorization and DPoP headers, and what a proof must name (RFC 9449 §4.3). */
export interface PresentedCredentials {
  authorization?: string;
  dpop?: string | string[];
  method: string;
  /** The request URL without query and fragment. */
  htu: string;
}

export interface AuthenticatorContext {
  /** RFC 9728 metadata URL announced in `WWW-Authenticate: Bearer resource_metadata=...`. */
  resourceMetadataUrl: string;
}

/** Quote a value for an RFC 7235 auth-param (quoted-string); the lab never needs escapes beyond these. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

function presentedToken(authorization: string | undefined): { scheme: 'bearer' | 'dpop'; token: string } | undefined {
  const match = /^(Bearer|DPoP)[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(authorization ?? '');
  return match ? { scheme: match[1]!.toLowerCase() as 'bearer' | 'dpop', token: match[2]! } : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function scopesOf(payload: JWTPayload): string[] {
  return typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
}

/**
 * Decides, before the MCP transport sees a request, whether the caller may proceed.
 * Access tokens and ID tokens are told apart by the JWS `typ` header: oidc-provider signs
 * JWT access tokens with `typ: at+jwt` (RFC 9068 §2.1) and ID tokens without it; as a
 * second guard an ID token must not carry `scope` or `client_id` (RFC 9068 §2.2 claims).
 */
export class GatewayAuthenticator {
  #auth: GatewayAuth;
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  #dpop: GatewayDpop | undefined;

  constructor(auth: GatewayAuth, private readonly ctx: AuthenticatorContext) {
    this.#auth = auth;
    this.#jwks = this.#makeJwks(auth);
    this.#dpop = auth.mode === 'jwt' && auth.dpop ? new GatewayDpop(auth.dpop) : undefined;
  }

  /** The DPoP checker in 'dpop' mode (its record, its nonce). */
  get dpop(): GatewayDpop | undefined {
    return this.#dpop;
  }

  get auth(): GatewayAuth {
    return this.#auth;
  }

  set(auth: GatewayAuth): void {
    this.#auth = auth;
    this.#jwks = this.#makeJwks(auth);
    this.#dpop = auth.mode === 'jwt' && auth.dpop ? new GatewayDpop(auth.dpop) : undefined;
  }

  #makeJwks(auth: GatewayAuth): ReturnType<typeof createRemoteJWKSet> | undefined {
    return auth.mode === 'jwt' ? createRemoteJWKSet(new URL(auth.jwksUri), { timeoutDuration: 5000 }) : undefined;
  }

  /** Check the Authorization header, and the scopes demanded by the tools the body calls. */
  async authenticate(presented: PresentedCredentials, calledTools: string[]): Promise<AuthOutcome> {
    const auth = this.#auth;
    if (auth.mode === 'none') return { ok: true };
    const credential = presentedToken(presented.authorization);
    const token = credential?.scheme === 'bearer' || (credential && this.#dpop) ? credential.token : undefined;
    if (auth.mode === 'static') {
      if (token !== undefined && sameSecret(token, auth.token)) {
        return { ok: true, authInfo: { token, clientId: 'static', scopes: [], extra: {} } };
      }
      return {
        ok: false,
        status: 401,
        wwwAuthenticate: token === undefined ? 'Bearer' : 'Bearer error="invalid_token"',
        error: 'invalid_token',
        description: token === undefined ? 'missing bearer token' : 'bearer token does not match',
      };
    }
    if (token === undefined) return this.#unauthorized(auth, undefined, 'missing bearer token');
    let payload: JWTPayload;
    let kind: 'access' | 'id';
    try {
      ({ payload, kind } = await this.#verify(auth, token));
    } catch (error) {
      const description = error instanceof joseErrors.JOSEError || error instanceof Error ? error.message : String(error);
      return this.#unauthorized(auth, 'invalid_token', description);
    }
    const refusal = await this.#checkBinding(auth, presented, credential!, payload);
    if (refusal) return refusal;
    const granted = new Set(scopesOf(payload));
    const needed = new Set(auth.requiredScopes ?? []);
    for (const tool of calledTools) {
      const extra = auth.toolScopes?.[tool];
      if (extra) needed.add(extra);
    }
    const missing = [...needed].filter((s) => !granted.has(s));
    if (kind === 'access' && missing.length > 0) {
      // RFC 6750 §3.1: insufficient_scope → 403. The scope list is everything the token already
      // holds plus what is missing, so a client that re-requests exactly this keeps its grants.
      const scope = [...new Set([...(auth.requiredScopes ?? []), ...granted, ...needed])].join(' ');
      return {
        ok: false,
        status: 403,
        wwwAuthenticate: `Bearer error="insufficient_scope", scope=${quoted(scope)}, resource_metadata=${quoted(this.ctx.resourceMetadataUrl)}`,
        error: 'insufficient_scope',
        description: `missing scope: ${missing.join(' ')}`,
      };
    }
    const summary: TokenSummary = {
      sub: payload.sub,
      scope: typeof payload.scope === 'string' ? payload.scope : undefined,
      aud: payload.aud,
      token_kind: kind,
    };
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : '';
    return {
      ok: true,
      authInfo: {
        token,
        clientId,
        scopes: [...granted],
        expiresAt: payload.exp,
        extra: { ...summary },
      },
    };
  }

  async #verify(auth: JwtAuth, token: string): Promise<{ payload: JWTPayload; kind: 'access' | 'id' }> {
    const jwks = this.#jwks;
    if (!jwks) throw new Error('no JWKS configured');
    if (auth.acceptIdToken) {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: auth.issuer, requiredClaims: ['exp', 'sub', 'aud'] });
      const typ = protectedHeader.typ?.toLowerCase().replace(/^application\//, '');
      if (typ === 'at+jwt' || payload.scope !== undefined || payload.client_id !== undefined) {
        throw new Error('an access token was presented where an ID token is required');
      }
      return { payload, kind: 'id' };
    }
    // jose compares `typ` after stripping an "application/" prefix (RFC 9068 §4 check 1).
    const { payload } = await jwtVerify(token, jwks, {
      issuer: auth.issuer,
      audience: auth.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp'],
    });
    return { payload, kind: 'access' };
  }

  /**
   * RFC 9449 §7: a DPoP-bound token (cnf.jkt) needs the DPoP scheme and a valid proof, never
   * Bearer; in 'dpop' mode with requireBound an unbound token is refused too.
   */
  async #checkBinding(auth: JwtAuth, presented: PresentedCredentials, credential: { scheme: 'bearer' | 'dpop'; token: string }, payload: JWTPayload): Promise<AuthOutcome | undefined> {
    const dpop = this.#dpop;
    if (!dpop) return undefined;
    const jkt = (payload.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (credential.scheme === 'bearer') {
      if (jkt !== undefined) {
        dpop.record.refusals.push('a DPoP-bound token presented as Bearer');
        return this.#unauthorized(auth, 'invalid_token', 'this token is DPoP-bound: present it with the DPoP scheme and a proof');
      }
      if (dpop.options.requireBound) {
        dpop.record.refusals.push('an unbound token');
        return this.#unauthorized(auth, 'invalid_token', 'only DPoP-bound tokens are accepted');
      }
      return undefined;
    }
    const check = await dpop.check({ proof: presented.dpop, method: presented.method, htu: presented.htu, token: credential.token, jkt, nowS: Math.floor(Date.now() / 1000) });
    if (check.ok) return undefined;
    return this.#unauthorized(auth, check.error, check.description, check.nonce);
  }

  #unauthorized(auth: JwtAuth, error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce' | undefined, description: string, nonce?: string): AuthOutcome {
    const errorParams = error ? [`error=${quoted(error)}`, `error_description=${quoted(description)}`] : [];
    const common = [`resource_metadata=${quoted(this.ctx.resourceMetadataUrl)}`];
    if (auth.scopesSupported?.length) common.push(`scope=${quoted(auth.scopesSupported.join(' '))}`);
    // RFC 9449 §7.1: the DPoP challenge carries the DPoP errors and the accepted proof algorithms.
    const dpopError = error === 'invalid_dpop_proof' || error === 'use_dpop_nonce';
    const challenges: string[] = [];
    if (!this.#dpop?.options.requireBound) challenges.push(`Bearer ${[...(dpopError ? [] : errorParams), ...common].join(', ')}`);
    if (this.#dpop) challenges.push(`DPoP ${[...(dpopError || this.#dpop.options.requireBound ? errorParams : []), `algs=${quoted(this.#dpop.algs())}`, ...common].join(', ')}`);
    return {
      ok: false,
      status: 401,
      wwwAuthenticate: challenges.join(', '),
      error: error ?? 'unauthorized',
      description,
      ...(nonce ? { headers: { 'DPoP-Nonce': nonce } } : {}),
    };
  }
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import Provider, { type Configuration, type ClientMetadata } from 'oidc-provider';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { registerIdJagIssuer, registerIdJagRedeemer, type IdJagIssuerOptions, type IdJagTrustOptions } from './idpCrossAppAccess.js';
import { handleInteraction, type LabUser } from './idpInteractions.js';
import { labProviderFeatures } from './idpFeatures.js';
import { errorPage, page } from './idpPages.js';

export type { LabUser } from './idpInteractions.js';

export interface IdpOptions {
  host?: string;
  port?: number;
  /** The gateway URL: audience of JWT access tokens via RFC 8707 resource indicators. */
  resource: string;
  /** seconds, default 3600 */
  accessTokenTtl?: number;
  /** extra scopes beyond openid/offline_access/profile/email, default ['mcp:tools','mcp:admin'] */
  scopes?: string[];
  /** default [{username:'alice',password:'wonderland',email:'alice@example.test',name:'Alice'}] */
  users?: LabUser[];
  staticClients?: Record<string, unknown>[];
  /** default true */
  rotateRefreshTokens?: boolean;
  /**
   * 'stock' (default): oidc-provider's own policy, as Okta, Entra ID, Auth0, Keycloak and Google
   * behave — a refresh token only when offline_access was granted (which an OpenID request gets
   * only with prompt=consent). 'always': also to every public native client (the friendlier
   * lab mode earlier rounds used).
   */
  refreshTokens?: 'stock' | 'always';
  /** default true */
  pkceRequired?: boolean;
  /** e.g. '' or '/tenant-a' */
  issuerPath?: string;
  /** seconds, default 3600 (the lifetime of ID tokens: --use-id-token renews by it) */
  idTokenTtl?: number;
  /** RFC 8628 `interval` to announce in device authorization responses (oidc-provider sends none: clients then wait 5 s) */
  deviceInterval?: number;
  /** seconds, default 600: lifetime of device codes */
  deviceCodeTtl?: number;
  /**
   * Behave like Amazon Cognito: no registration endpoint, no PAR, no code_challenge_methods_supported
   * in the metadata (PKCE S256 still works), and an explicit `resource` parameter on an authorization
   * or token request is refused with invalid_request (tokens still get the gateway as audience by default).
   */
  cognitoLike?: boolean;
  /** Enterprise IdP role (cross-app access): a token-exchange grant that issues ID-JAGs for this provider's ID tokens */
  issueIdJag?: IdJagIssuerOptions;
  /** Resource AS role (cross-app access): a JWT bearer grant that redeems ID-JAGs from this enterprise IdP */
  trustIdJagFrom?: IdJagTrustOptions;
  /** default true; false: no device authorization endpoint */
  deviceFlow?: boolean;
  /** Answer the first still-pending device_code poll with slow_down (RFC 8628 §3.5) instead of authorization_pending */
  deviceSlowDownOnce?: boolean;
  /**
   * Lab mode 'dpop': oidc-provider's DPoP feature (RFC 9449) on, so tokens requested with a proof
   * are bound to its key (token_type DPoP, cnf.jkt); requireNonce: every proof needs a nonce from
   * this server (400 use_dpop_nonce + DPoP-Nonce first). Off by default, although oidc-provider
   * enables it out of the box, so the other lab tests keep exercising Bearer tokens.
   */
  dpop?: { requireNonce?: boolean };
}

export interface IdpRecord {
  /** query (or form) params of every authorization request (not the internal /auth/:uid resumes) */
  authorizationRequests: Record<string, string>[];
  /** form params of every /token request, as sent (secrets included: this is a lab) */
  tokenRequests: Record<string, string>[];
  /** client metadata of every successful dynamic registration */
  registrations: unknown[];
  /** form params of every revocation request */
  revocations: Record<string, string>[];
  /** refresh-token reuse detections (a rotated-out refresh token presented again; the grant is revoked) */
  refreshReuse: number;
  /** body of every successful /token answer (access, refresh and ID tokens as issued) */
  tokenResponses: Record<string, string>[];
  /** body of every successful registration answer (client_secret, registration_access_token when issued) */
  registrationResponses: Record<string, string>[];
  /** every authorization code issued (as it went into the redirect to the client) */
  authorizationCodes: string[];
  /** device_code polls answered slow_down (deviceSlowDownOnce) */
  slowDowns: number;
  /** ID-JAGs issued (issueIdJag) */
  idJagsIssued: string[];
  /** ID-JAGs redeemed (trustIdJagFrom) */
  idJagsRedeemed: string[];
  /** /token requests that carried a DPoP proof header */
  dpopProofs: number;
  /** /token answers 400 use_dpop_nonce */
  dpopNonceChallenges: number;
}

export interface Idp {
  issuer: string;
  jwksUri: string;
  port: number;
  provider: Provider;
  record: IdpRecord;
  /** A confidential client (client_secret_basic) allowed the client_credentials grant; also used by introspect(). */
  serviceClient: { clientId: string; clientSecret: string };
  /** RFC 7662 introspection for opaque tokens (refresh tokens); JWT access tokens are verified locally (oidc-provider will not introspect them). */
  introspect(token: string): Promise<{ active: boolean; [k: string]: unknown }>;
  close(): Promise<void>;
}

const BASE_SCOPES = ['openid', 'offline_access', 'profile', 'email'];
const DEFAULT_USERS: LabUser[] = [{ username: 'alice', password: 'wonderland', email: 'alice@example.test', name: 'Alice' }];
const REFRESH_REUSE_DETAIL = 'refresh token already used';

function flatten(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== 'object') return out;
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(' ') : String(v);
  }
  return out;
}

function scopeSet(source: { scope?: string }): Set<string> {
  return new Set((source.scope ?? '').split(' ').filter(Boolean));
}

/** Start the lab identity provider: oidc-provider over plain http on 127.0.0.1 with its own login pages. */
export async function startIdp(opts: IdpOptions): Promise<Idp> {
  const host = opts.host ?? '127.0.0.1';
  const issuerPath = (opts.issuerPath ?? '').replace(/\/+$/, '');
  const users = opts.users ?? DEFAULT_USERS;
  const accessTokenTtl = opts.accessTokenTtl ?? 3600;
  const allScopes = [...BASE_SCOPES, ...(opts.scopes ?? ['mcp:tools', 'mcp:admin'])];
  const rotate = opts.rotateRefreshTokens ?? true;
  const pkceRequired = opts.pkceRequired ?? true;
  const record: IdpRecord = {
    authorizationRequests: [],
    tokenRequests: [],
    registrations: [],
    revocations: [],
    refreshReuse: 0,
    tokenResponses: [],
    registrationResponses: [],
    authorizationCodes: [],
    slowDowns: 0,
    idJagsIssued: [],
    idJagsRedeemed: [],
    dpopProofs: 0,
    dpopNonceChallenges: 0,
  };
  const serviceClient = { clientId: 'lab-service', clientSecret: randomBytes(24).toString('base64url') };

  let provider: Provider | undefined;
  let callback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const httpServer = createServer((req, res) => {
    dispatch(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        const html = errorPage({ error: 'server_error', error_description: (error as Error).message });
        res.writeHead(500, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
      } else {
        res.destroy();
      }
    });
  });

  const dispatch = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!provider || !callback) {
      res.writeHead(503).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://lab.invalid');
    let rest: string | undefined;
    // RFC 8414 §3.1 path insertion (/.well-known/oauth-authorization-server/tenant-a) for path issuers;
    // oidc-provider itself serves the well-known documents under its mount path.
    for (const wk of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      if (issuerPath && url.pathname === `${wk}${issuerPath}`) rest = wk;
    }
    if (rest === undefined) {
      if (url.pathname === issuerPath || url.pathname.startsWith(`${issuerPath}/`)) rest = url.pathname.slice(issuerPath.length) || '/';
      else {
        res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' }).end(page('Not found', '<p>Not found</p>'));
        return;
      }
    }
    if (await handleInteraction(req, res, rest, { provider, users, mountPath: issuerPath })) return;
    if (issuerPath) {
      // Express-style mounting: oidc-provider derives its mount path from originalUrl minus url.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = `${issuerPath}${rest}${url.search}`;
      req.url = `${rest}${url.search}`;
    }
    callback(req, res);
  };

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const issuer = `http://${hostPart}:${port}${issuerPath}`;

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const signingKey = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const localJwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });

  const clients: ClientMetadata[] = [
    ...((opts.staticClients ?? []) as ClientMetadata[]),
    {
      client_id: serviceClient.clientId,
      client_secret: serviceClient.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ];

  const configuration: Configuration = {
    clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: allScopes,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx, sub) => {
      const user = users.find((u) => u.username === sub);
      if (!user) return undefined;
      return {
        accountId: user.username,
        claims: () => ({ sub: user.username, email: user.email, email_verified: user.email !== undefined, name: user.name }),
      };
    },
    interactions: { url: (_ctx, interaction) => `${issuerPath}/interaction/${interaction.uid}` },
    features: labProviderFeatures(opts, allScopes, accessTokenTtl),
    responseTypes: ['code'],
    pkce: { required: () => pkceRequired },
    // Named lab mode 'always': refresh tokens for offline_access and also for public native
    // clients (RFC 8252 apps). By default oidc-provider's stock policy applies.
    ...(opts.refreshTokens === 'always'
      ? {
          issueRefreshToken: ((_ctx, client, source) =>
            client.grantTypeAllowed('refresh_token') &&
            (scopeSet(source).has('offline_access') || (client.applicationType === 'native' && client.clientAuthMethod === 'none'))) as Configuration['issueRefreshToken'],
        }
      : {}),
    rotateRefreshToken: rotate,
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 120,
      IdToken: opts.idTokenTtl ?? 3600,
      RefreshToken: 14 * 24 * 3600,
      DeviceCode: opts.deviceCodeTtl ?? 600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => true,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ ...out });
    },
  };

  provider = new Provider(issuer, configuration);
  const p = provider;
  const signer = { issuer, privateKey, kid, localJwks };
  if (opts.issueIdJag) registerIdJagIssuer(p, signer, opts.issueIdJag, record);
  if (opts.trustIdJagFrom) registerIdJagRedeemer(p, signer, { ...opts.trustIdJagFrom, resource: opts.resource, accessTokenTtl }, record);
  p.proxy = false; // nothing sits in front of the lab: never trust X-Forwarded-*

  p.use(async (ctx, next) => {
    if (opts.cognitoLike && ctx.path === '/auth' && ctx.query.resource !== undefined) {
      record.authorizationRequests.push(flatten(ctx.query));
      // To a registered redirect URI the refusal goes back to the client (RFC 6749 §4.1.2.1), else it is shown here.
      const client = typeof ctx.query.client_id === 'string' ? await p.Client.find(ctx.query.client_id) : undefined;
      const redirectUri = typeof ctx.query.redirect_uri === 'string' ? ctx.query.redirect_uri : undefined;
      if (client && redirectUri && client.redirectUris?.includes(redirectUri)) {
        const back = new URL(redirectUri);
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', 'the resource parameter is not supported');
        if (typeof ctx.query.state === 'string') back.searchParams.set('state', ctx.query.state);
        back.searchParams.set('iss', issuer);
        ctx.redirect(back.href);
        return;
      }
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = errorPage({ error: 'invalid_request', error_description: 'the resource parameter is not supported' });
      return;
    }
    await next();
    const route = ctx.oidc?.route;
    if (opts.cognitoLike && route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      const { code_challenge_methods_supported: _dropped, ...rest } = ctx.body as Record<string, unknown>;
      ctx.body = rest;
    }
    if (opts.cognitoLike && route === 'token' && (ctx.oidc?.body as Record<string, unknown> | undefined)?.resource !== undefined) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: 'the resource parameter is not supported' };
    }
    if (route === 'authorization') {
      record.authorizationRequests.push(flatten(ctx.method === 'POST' ? ctx.oidc?.body : ctx.query));
    } else if (route === 'token') {
      const body = ctx.oidc?.body as Record<string, unknown> | undefined;
      const answer = ctx.body as Record<string, unknown> | undefined;
      if (opts.deviceSlowDownOnce && record.slowDowns === 0 && body?.grant_type === 'urn:ietf:params:oauth:grant-type:device_code' && answer?.error === 'authorization_pending') {
        record.slowDowns += 1;
        ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
      }
      record.tokenRequests.push(flatten(ctx.oidc?.body));
      if (ctx.get('dpop')) record.dpopProofs += 1;
      if (ctx.status === 400 && (ctx.body as Record<string, unknown> | undefined)?.error === 'use_dpop_nonce') record.dpopNonceChallenges += 1;
      if (ctx.status === 200) record.tokenResponses.push(flatten(ctx.body));
    } else if (route === 'device_authorization' && ctx.status === 200 && opts.deviceInterval !== undefined) {
      ctx.body = { ...(ctx.body as Record<string, unknown>), interval: opts.deviceInterval };
    } else if (route === 'registration' && ctx.status === 201) {
      record.registrationResponses.push(flatten(ctx.body));
    } else if (route === 'revocation') {
      record.revocations.push(flatten(ctx.oidc?.body));
    }
  });
  p.on('registration_create.success', (_ctx: unknown, client: { metadata(): unknown }) => {
    record.registrations.push(client.metadata());
  });
  p.on('authorization_code.saved', (code: { jti: string }) => {
    record.authorizationCodes.push(code.jti);
  });
  p.on('grant.error', (_ctx: unknown, error: { error_detail?: string }) => {
    if (error.error_detail === REFRESH_REUSE_DETAIL) record.refreshReuse += 1;
  });
  p.on('server_error', (_ctx: unknown, error: Error) => {
    process.stderr.write(`lab idp server_error: ${error.stack ?? error.message}\n`);
  });
  callback = p.callback() as (req: IncomingMessage, res: ServerResponse) => void;

  const introspectionUrl = `${issuer}/token/introspection`;

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    port,
    provider: p,
    record,
    serviceClient,
    introspect: async (token) => {
      // oidc-provider refuses to introspect structured (JWT) access tokens (unsupported_token_type),
      // so those are checked here against the provider's own key; opaque tokens go to RFC 7662.
      if (token.split('.').length === 3) {
        try {
          const { payload } = await jwtVerify(token, localJwks, { issuer });
          return { active: true, token_type: 'access_token', ...payload };
        } catch {
          return { active: false };
        }
      }
      const response = await fetch(introspectionUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(serviceClient.clientId)}:${encodeURIComponent(serviceClient.clientSecret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`introspection failed: HTTP ${response.status} ${await response.text()}`);
      return (await response.json()) as { active: boolean; [k: string]: unknown };
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}

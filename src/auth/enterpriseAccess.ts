import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRefusedError, UsageError } from '../errors.js';
import { runAuthorizationCodeFlow } from './authorizationCode.js';
import { startCallbackServer } from './callbackServer.js';
import { preRegisteredClient } from './clientRegistration.js';
import { discoverAuthorizationServer, type DiscoveredServer } from './discovery.js';
import { grantDpopOptions, type DpopBinding } from './dpop/dpopGrant.js';
import { oauthErrorCode, toAuthError } from './oauthErrors.js';
import { buildConfiguration, clientAuthFor } from './oidcConfiguration.js';
import { DEFAULT_CALLBACK_HOST, type AuthOptions, type EnterpriseOptions } from './options.js';
import { canonicalServerUrl } from './profile.js';
import { unverifiedJwtClaims } from './assertionSource.js';
import { registerSessionSecrets, sessionFromTokenResponse, type StoredSession } from './tokenSet.js';

/** RFC 8693 §2.1 grant type. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 §2.1 grant type. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant) token type. */
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
/** RFC 8693 §3 token type of an OIDC ID token. */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

/** What performEnterpriseSignIn needs. */
export interface EnterpriseSignInInput {
  options: AuthOptions & { enterprise: EnterpriseOptions };
  deps: Deps;
  /** The MCP server's authorization server (already discovered and vetted). */
  server: DiscoveredServer;
  scope?: string;
  resource?: string;
  /** Bind the MCP server's tokens to this DPoP key (RFC 9449); the enterprise IdP's steps are not bound. */
  dpop?: DpopBinding;
  signal?: AbortSignal;
}

/**
 * Enterprise-managed authorization (MCP extension "cross-app access"): the user signs in once
 * at the enterprise IdP (authorization code + PKCE, scope openid); its ID token is exchanged
 * there (RFC 8693) for an Identity Assertion JWT (ID-JAG) whose audience is the MCP server's
 * authorization server; that assertion is redeemed there with the JWT bearer grant (RFC 7523
 * §2.1) for an access token to the MCP server. The MCP server's AS never shows a login page.
 */
export async function performEnterpriseSignIn(input: EnterpriseSignInInput): Promise<StoredSession> {
  const { options, deps, server, signal } = input;
  const enterprise = options.enterprise;
  if (!options.clientId) {
    throw new UsageError('--enterprise-idp needs --client-id: the client registered at the MCP server\'s authorization server for the JWT bearer grant');
  }
  const idp = await discoverAuthorizationServer({
    issuer: enterprise.issuer,
    fetch: deps.fetch,
    log: deps.log,
    signal,
    allowHttp: options.allowHttp,
    // With an ID token handed over there is no authorization code at the IdP for PKCE to protect.
    assumePkceS256: options.assumePkceS256 || enterprise.idToken !== undefined,
  });
  const entClient = await preRegisteredClient({ clientId: enterprise.clientId, clientSecret: enterprise.clientSecret }, idp.metadata, deps);
  const entConfig = buildConfiguration({
    metadata: idp.metadata,
    clientId: entClient.clientId,
    clientMetadata: { token_endpoint_auth_method: entClient.tokenEndpointAuthMethod },
    clientAuth: clientAuthFor(entClient.tokenEndpointAuthMethod, entClient.clientSecret),
    fetch: deps.fetch,
    signal,
    insecure: idp.insecure,
  });

  // 1. The user's ID token from the enterprise IdP: handed over by the platform, or from the one
  // browser step.
  const handed = await handedIdToken(enterprise, deps);
  const { idToken, identity } = handed ?? (await signInAtEnterprise(input, entConfig));

  // 2. RFC 8693 token exchange at the enterprise IdP: ID token → ID-JAG for the MCP server's AS.
  const exchange: Record<string, string> = {
    requested_token_type: ID_JAG_TOKEN_TYPE,
    subject_token: idToken,
    subject_token_type: ID_TOKEN_TYPE,
    audience: server.metadata.issuer,
  };
  if (input.resource) exchange.resource = input.resource;
  if (input.scope) exchange.scope = input.scope;
  let idJag: string;
  try {
    const exchanged = await client.genericGrantRequest(entConfig, TOKEN_EXCHANGE_GRANT, exchange);
    if (exchanged.issued_token_type !== ID_JAG_TOKEN_TYPE) {
      throw new AuthRefusedError(`the enterprise IdP answered the token exchange with a ${String(exchanged.issued_token_type)} instead of an ID-JAG`, 'bad_token_exchange');
    }
    idJag = exchanged.access_token;
    deps.log.redactor.addSecret(idJag);
  } catch (err) {
    throw toAuthError(err, `token exchange at the enterprise IdP ${enterprise.issuer}`);
  }

  // 3. RFC 7523 JWT bearer grant at the MCP server's AS: ID-JAG → access token for the resource.
  const mcpClient = await preRegisteredClient(options, server.metadata, deps);
  const mcpConfig = buildConfiguration({
    metadata: server.metadata,
    clientId: mcpClient.clientId,
    clientMetadata: { token_endpoint_auth_method: mcpClient.tokenEndpointAuthMethod },
    clientAuth: clientAuthFor(mcpClient.tokenEndpointAuthMethod, mcpClient.clientKey ?? mcpClient.clientSecret),
    fetch: deps.fetch,
    signal,
    insecure: server.insecure,
  });
  const redeem: Record<string, string> = { assertion: idJag };
  if (input.resource) redeem.resource = input.resource;
  if (input.scope) redeem.scope = input.scope;
  let response: Awaited<ReturnType<typeof client.genericGrantRequest>>;
  try {
    const dpop = await grantDpopOptions(mcpConfig, input.dpop, server.metadata.dpop_signing_alg_values_supported);
    response = await client.genericGrantRequest(mcpConfig, JWT_BEARER_GRANT, redeem, dpop);
  } catch (err) {
    const code = oauthErrorCode(err);
    throw toAuthError(err, `JWT bearer grant at ${server.metadata.issuer}${code === 'invalid_grant' ? ' (the ID-JAG was refused)' : ''}`);
  }
  const session = sessionFromTokenResponse(
    response,
    {
      server: canonicalServerUrl(options.serverUrl),
      resource: input.resource,
      issuer: server.metadata.issuer,
      clientId: mcpClient.clientId,
      clientSource: 'pre-registered',
      tokenEndpointAuthMethod: mcpClient.tokenEndpointAuthMethod,
      tokenEndpoint: server.metadata.token_endpoint!,
      revocationEndpoint: server.metadata.revocation_endpoint,
      grant: 'jwt_bearer',
      dpop: input.dpop?.key,
      dpopRequired: input.dpop?.required,
    },
    deps.clock.now(),
    undefined,
    input.scope,
  );
  // Who signed in is known from the enterprise ID token, not from this response.
  if (typeof identity?.sub === 'string') session.subject = identity.sub;
  if (typeof identity?.email === 'string') session.email = identity.email;
  if (typeof identity?.name === 'string') session.name = identity.name;
  registerSessionSecrets(deps.log.redactor, session);
  return session;
}

/** The enterprise ID token from --enterprise-id-token-file/-env, re-read at each sign-in; claims for display only. */
async function handedIdToken(enterprise: EnterpriseOptions, deps: Deps): Promise<{ idToken: string; identity?: Record<string, unknown> } | undefined> {
  if (!enterprise.idToken) return undefined;
  const idToken = await enterprise.idToken.read();
  deps.log.redactor.addSecret(idToken);
  return { idToken, identity: unverifiedJwtClaims(idToken) };
}

/** The browser sign-in at the enterprise IdP (authorization code + PKCE, scope openid). */
async function signInAtEnterprise(input: EnterpriseSignInInput, entConfig: client.Configuration): Promise<{ idToken: string; identity?: Record<string, unknown> }> {
  const { options, deps, signal } = input;
  const enterprise = options.enterprise;
  const callback = await startCallbackServer({ host: options.callbackHost ?? DEFAULT_CALLBACK_HOST, port: options.callbackPort ?? 0, log: deps.log });
  try {
    const signedIn = await runAuthorizationCodeFlow({ config: entConfig, callback, options, deps, scope: 'openid email profile', usePar: false, signal });
    if (!signedIn.id_token) throw new AuthRefusedError(`the enterprise IdP ${enterprise.issuer} issued no ID token`, 'no_id_token');
    const idToken = signedIn.id_token;
    const identity = signedIn.claims();
    deps.log.redactor.addSecret(signedIn.access_token);
    deps.log.redactor.addSecret(signedIn.refresh_token);
    deps.log.redactor.addSecret(idToken);
    return { idToken, identity };
  } finally {
    await callback.close();
  }

}

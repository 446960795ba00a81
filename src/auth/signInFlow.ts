import type { Deps } from '../deps.js';
import { KeybridgeError } from '../errors.js';
import type { TokenStore } from '../store/tokenStore.js';
import { chooseScope, runAuthorizationCodeFlow, withIdTokenScope } from './authorizationCode.js';
import { discoverAuthorizationTarget } from './authorizationDiscovery.js';
import { withOfflineAccess } from './offlineAccess.js';
import { startCallbackServer, type CallbackServer } from './callbackServer.js';
import { performDeviceSignIn } from './deviceGrant.js';
import { dpopBindingFor } from './dpop/dpopGrant.js';
import { performEnterpriseSignIn } from './enterpriseAccess.js';
import { configurationFor, dropStoredRegistration, loadStoredRegistration, resolveClient } from './clientRegistration.js';
import type { DiscoveredServer } from './discovery.js';
import { DEFAULT_CALLBACK_HOST, type AuthOptions } from './options.js';
import { canonicalServerUrl } from './profile.js';
import { enforceSecretBinding } from './secretBinding.js';
import { registerSessionSecrets, sessionFromTokenResponse, type StoredSession } from './tokenSet.js';
import type { BearerChallenge } from './wwwAuthenticate.js';

/** What performSignIn needs. */
export interface SignInInput {
  options: AuthOptions;
  deps: Deps;
  store: TokenStore;
  /** The gateway's Bearer challenge that triggered the sign-in, if any (resource_metadata, scope). */
  challenge?: BearerChallenge;
  /** Scope to request instead of the usual choice (step-up after insufficient_scope). */
  scopeOverride?: string;
  signal?: AbortSignal;
}

/**
 * The interactive sign-in, start to finish: protected resource metadata → authorization server
 * metadata → loopback listener → client identity → authorization code + PKCE → a StoredSession
 * (not yet written to the store; the caller does that under its lock).
 */
export async function performSignIn(input: SignInInput): Promise<StoredSession> {
  const { options, deps, signal } = input;
  const target = await discoverAuthorizationTarget({
    options,
    resourceMetadataUrl: input.challenge?.resourceMetadata,
    fetch: deps.fetch,
    log: deps.log,
    signal,
    // PKCE protects an authorization code at this server: the device grant and enterprise access
    // (an ID-JAG redeemed with the JWT bearer grant) never use one here.
    requirePkce: !options.enterprise && options.grant !== 'device',
  });
  const { server, resource } = target;
  // RFC 9449: a new key for this sign-in when the tokens are to be DPoP-bound.
  const dpop = await dpopBindingFor({ options, serverAlgs: server.metadata.dpop_signing_alg_values_supported, challenge: input.challenge, log: deps.log });

  // A pre-registered client's secret or key goes only to the authorization server it was first
  // sent to (secretBinding.ts): checked before the browser, the device code or a token request.
  if (options.clientId && (options.clientSecret || options.clientKey)) {
    await enforceSecretBinding({
      store: input.store,
      server: canonicalServerUrl(options.serverUrl),
      clientId: options.clientId,
      issuer: server.metadata.issuer,
      pinnedIssuer: options.issuer,
      rebind: options.rebindIssuer,
      howToAccept: `mcp-keybridge login ${canonicalServerUrl(options.serverUrl)} --client-id ${options.clientId} --force …`,
    });
  }
  const scope = withOfflineAccess(
    withIdTokenScope(
      options,
      input.scopeOverride ?? chooseScope({ optionScope: options.scope, challengeScope: input.challenge?.scope, scopesSupported: target.scopesSupported }),
    ),
    server.metadata.scopes_supported,
  );
  // Cross-app access: the browser step happens at the enterprise IdP, never at this AS.
  if (options.enterprise) {
    return performEnterpriseSignIn({ options: { ...options, enterprise: options.enterprise }, deps, server, scope, resource, dpop, signal });
  }
  // RFC 8628: no browser on this machine and no loopback listener.
  if (options.grant === 'device') return performDeviceSignIn({ options, deps, store: input.store, server, scope, resource, dpop, signal });

  const callbackHost = options.callbackHost ?? DEFAULT_CALLBACK_HOST;
  const callback = await openCallback(input, server, callbackHost);
  try {
    // One retry, and only for a stored registration the AS no longer knows (invalid_client).
    for (let attempt = 0; ; attempt++) {
      const resolved = await resolveClient({
        options,
        server,
        redirectUri: callback.redirectUri,
        callbackHost,
        store: input.store,
        deps,
        signal,
        forceNewRegistration: attempt > 0,
      });
      const config = configurationFor(server, resolved, deps.fetch, signal);
      // PAR (RFC 9126) when the AS requires it, and as a back-channel check of a stored
      // registration: a forgotten client then fails here with invalid_client instead of
      // stranding the user on the AS's error page.
      const offersPar = server.metadata.pushed_authorization_request_endpoint !== undefined;
      const usePar = offersPar && (server.metadata.require_pushed_authorization_requests === true || resolved.reused);
      try {
        const response = await runAuthorizationCodeFlow({ config, callback, options, deps, scope, resource, usePar, dpop, signal });
        const session = sessionFromTokenResponse(
          response,
          {
            server: canonicalServerUrl(options.serverUrl),
            resource,
            issuer: server.metadata.issuer,
            clientId: resolved.clientId,
            clientSource: resolved.clientSource,
            tokenEndpointAuthMethod: resolved.tokenEndpointAuthMethod,
            tokenEndpoint: server.metadata.token_endpoint!,
            revocationEndpoint: server.metadata.revocation_endpoint,
            idTokenSigningAlgs: server.metadata.id_token_signing_alg_values_supported,
            bearer: options.useIdToken ? 'id_token' : undefined,
            dpop: dpop?.key,
            dpopRequired: dpop?.required,
          },
          deps.clock.now(),
          undefined,
          scope,
        );
        registerSessionSecrets(deps.log.redactor, session);
        return session;
      } catch (err) {
        const invalidClient = err instanceof KeybridgeError && err.code === 'oauth_invalid_client';
        if (invalidClient && resolved.reused && attempt === 0) {
          deps.log.info(`the authorization server no longer knows the stored client registration; registering again`);
          await dropStoredRegistration(input.store, { issuer: server.metadata.issuer, clientId: resolved.clientId }, callbackHost);
          continue;
        }
        throw err;
      }
    }
  } finally {
    await callback.close();
  }
}

/**
 * Start the loopback listener: on --callback-port, else on the port of a stored dynamic
 * registration for this AS (so its redirect URI still matches), else an ephemeral port.
 */
async function openCallback(input: SignInInput, server: DiscoveredServer, host: 'localhost' | '127.0.0.1'): Promise<CallbackServer> {
  const { options, deps } = input;
  if (options.callbackPort !== undefined) return startCallbackServer({ host, port: options.callbackPort, log: deps.log });
  const mayUseDcr = !options.clientId && !(options.clientMetadataUrl && server.metadata.client_id_metadata_document_supported === true);
  if (mayUseDcr) {
    const stored = await loadStoredRegistration(input.store, server.metadata.issuer, host);
    const port = stored ? Number(new URL(stored.redirectUri).port) : 0;
    if (port > 0) {
      try {
        return await startCallbackServer({ host, port, log: deps.log });
      } catch {
        deps.log.debug(`the stored registration's callback port ${port} is busy; using a new port (and a new registration)`);
      }
    }
  }
  return startCallbackServer({ host, port: 0, log: deps.log });
}

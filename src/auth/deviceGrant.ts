import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRefusedError, AuthRequiredError, UnsafeServerError } from '../errors.js';
import type { TokenStore } from '../store/tokenStore.js';
import { validateBrowserUrl } from './browser.js';
import { CLIENT_NAME, configurationFor, loadStoredRegistration, preRegisteredClient, registerClient, registrationAuthMethod, type ResolvedClient } from './clientRegistration.js';
import type { DiscoveredServer } from './discovery.js';
import { grantDpopOptions, type DpopBinding } from './dpop/dpopGrant.js';
import { oauthErrorCode, sanitizeServerText, toAuthError } from './oauthErrors.js';
import type { AuthOptions } from './options.js';
import { canonicalServerUrl } from './profile.js';
import { registerSessionSecrets, sessionFromTokenResponse, type StoredSession } from './tokenSet.js';

/** RFC 8628 §3.4 grant type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The "callback host" under which a device-flow registration is stored: it has no redirect URI. */
const DEVICE_REGISTRATION_SLOT = 'device';
/** Upper bound of the wait, whatever expires_in the server announces (RFC 8628 §3.2 leaves it open). */
const MAX_DEVICE_WAIT_MS = 30 * 60_000;

/** What performDeviceSignIn needs. */
export interface DeviceSignInInput {
  options: AuthOptions;
  deps: Deps;
  store: TokenStore;
  server: DiscoveredServer;
  scope?: string;
  resource?: string;
  /** Bind the tokens to this DPoP key (RFC 9449): the polls carry proofs. */
  dpop?: DpopBinding;
  signal?: AbortSignal;
}

/**
 * The device authorization grant (RFC 8628), for machines without a browser: no loopback
 * listener. The verification URL and user code go to stderr; the token endpoint is polled at
 * the announced interval (openid-client adds 5 s on slow_down, §3.5) until the user approves,
 * declines, or the code expires.
 */
export async function performDeviceSignIn(input: DeviceSignInInput): Promise<StoredSession> {
  const { options, deps, server, signal } = input;
  if (!server.metadata.device_authorization_endpoint) {
    throw new AuthRefusedError(
      `the authorization server ${server.metadata.issuer} offers no device authorization endpoint (RFC 8628); sign in with the browser instead (drop --grant device)`,
      'device_unsupported',
    );
  }
  const resolved = await deviceClient(input);
  const config = configurationFor(server, resolved, deps.fetch, signal);
  const params: Record<string, string> = {};
  if (input.scope) params.scope = input.scope;
  if (input.resource) params.resource = input.resource;

  let started: client.DeviceAuthorizationResponse;
  try {
    started = await client.initiateDeviceAuthorization(config, params);
  } catch (err) {
    throw toAuthError(err, 'device authorization request');
  }
  deps.log.redactor.addSecret(started.device_code);
  announce(started, options, deps);

  const deadlineMs = Math.min(started.expires_in * 1000, options.authTimeoutMs, MAX_DEVICE_WAIT_MS);
  const expiry = AbortSignal.timeout(deadlineMs);
  const dpop = await grantDpopOptions(config, input.dpop, server.metadata.dpop_signing_alg_values_supported);
  let response: Awaited<ReturnType<typeof client.pollDeviceAuthorizationGrant>>;
  try {
    // RFC 8707 §2.2: the resource goes on the token request too.
    response = await client.pollDeviceAuthorizationGrant(config, started, input.resource ? { resource: input.resource } : undefined, {
      signal: signal ? AbortSignal.any([expiry, signal]) : expiry,
      ...dpop,
    });
  } catch (err) {
    const code = oauthErrorCode(err);
    if (code === 'expired_token' || (expiry.aborted && !signal?.aborted)) {
      throw new AuthRequiredError(
        `the device code expired before the sign-in was completed (after ${Math.round(deadlineMs / 1000)} s); run the command again to get a new code`,
        'device_code_expired',
        err,
      );
    }
    if (code === 'access_denied') {
      throw new AuthRefusedError('the sign-in was declined on the device page (access_denied)', 'oauth_access_denied', err);
    }
    throw toAuthError(err, 'device code sign-in');
  }
  const session = sessionFromTokenResponse(
    response,
    {
      server: canonicalServerUrl(options.serverUrl),
      resource: input.resource,
      issuer: server.metadata.issuer,
      clientId: resolved.clientId,
      clientSource: resolved.clientSource,
      tokenEndpointAuthMethod: resolved.tokenEndpointAuthMethod,
      tokenEndpoint: server.metadata.token_endpoint!,
      revocationEndpoint: server.metadata.revocation_endpoint,
      idTokenSigningAlgs: server.metadata.id_token_signing_alg_values_supported,
      grant: 'device_code',
      bearer: options.useIdToken ? 'id_token' : undefined,
      dpop: input.dpop?.key,
      dpopRequired: input.dpop?.required,
    },
    deps.clock.now(),
    undefined,
    input.scope,
  );
  registerSessionSecrets(deps.log.redactor, session);
  return session;
}

/** Tell the user where to go and what to type (stderr only: stdout is the MCP channel). */
function announce(started: client.DeviceAuthorizationResponse, options: AuthOptions, deps: Deps): void {
  const vet = (raw: string, what: string): string => {
    try {
      return validateBrowserUrl(raw, { allowHttp: options.allowHttp }).href;
    } catch (err) {
      throw new UnsafeServerError(`the authorization server sent a ${what} that is not a safe https URL (${(err as Error).message})`, 'unsafe_browser_url');
    }
  };
  const uri = vet(started.verification_uri, 'verification_uri');
  const complete = typeof started.verification_uri_complete === 'string' ? vet(started.verification_uri_complete, 'verification_uri_complete') : undefined;
  const code = sanitizeServerText(started.user_code, 40);
  const lines = [`To sign in, open ${uri} on any device and enter the code: ${code}`];
  if (complete) lines.push(`(or open ${complete} to skip typing the code)`);
  lines.push(`The code expires in ${Math.round(started.expires_in / 60) || 1} min; waiting for you to finish there…`);
  deps.log.say(`${lines.join('\n')}\n`);
}

/** The client for the device grant: --client-id, else a stored or new dynamic registration allowed that grant. */
async function deviceClient(input: DeviceSignInInput): Promise<ResolvedClient> {
  const { options, server, deps, store } = input;
  if (options.clientId) return preRegisteredClient(options, server.metadata, deps);
  const issuer = server.metadata.issuer;
  const stored = await loadStoredRegistration(store, issuer, DEVICE_REGISTRATION_SLOT);
  if (stored && stored.issuer === issuer) {
    deps.log.redactor.addSecret(stored.clientSecret);
    return { clientId: stored.clientId, clientSource: 'dynamic', tokenEndpointAuthMethod: stored.tokenEndpointAuthMethod, clientSecret: stored.clientSecret, reused: true };
  }
  return registerClient({
    server,
    metadata: {
      client_name: CLIENT_NAME,
      application_type: 'native',
      grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: registrationAuthMethod(server.metadata.token_endpoint_auth_methods_supported),
    },
    store,
    slot: DEVICE_REGISTRATION_SLOT,
    redirectUri: '',
    deps,
    signal: input.signal,
    what: 'dynamic client registration (device grant)',
    registerYourselfHint: 'register a client allowed the device grant there',
  });
}

import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRefusedError } from '../errors.js';
import type { TokenStore } from '../store/tokenStore.js';
import { loadStoredRegistration } from './clientRegistration.js';
import { checkEndpoint, needsInsecureRequests } from './endpointPolicy.js';
import { oauthErrorCode, toAuthError } from './oauthErrors.js';
import { buildConfiguration, clientAuthFor } from './oidcConfiguration.js';
import { DEFAULT_CALLBACK_HOST, type AuthOptions } from './options.js';
import { parseStoredSession, type StoredSession } from './tokenSet.js';

/** What revokeSession needs. */
export interface RevokeInput {
  session: StoredSession;
  options: Pick<AuthOptions, 'clientSecret' | 'allowHttp' | 'callbackHost'>;
  deps: Deps;
  store: TokenStore;
  signal?: AbortSignal;
}

/** Which tokens the authorization server confirmed revoked. */
export interface RevokeResult {
  refreshToken: boolean;
  accessToken: boolean;
}

/**
 * Revoke a session's tokens at the authorization server (RFC 7009): the refresh token first
 * (which also ends the grant at most servers), then the access token. Local deletion is the
 * caller's separate step (`logout` forgets; `revoke` also tells the server).
 */
export async function revokeSession(input: RevokeInput): Promise<RevokeResult> {
  const { session, options, deps } = input;
  if (!session.revocationEndpoint) {
    throw new AuthRefusedError(`the authorization server ${session.issuer} offers no token revocation endpoint`, 'revocation_unsupported');
  }
  const endpoint = checkEndpoint(session.revocationEndpoint, 'revocation_endpoint', { allowHttp: options.allowHttp });
  const tokenEndpoint = checkEndpoint(session.tokenEndpoint, 'token_endpoint', { allowHttp: options.allowHttp });
  const method = session.tokenEndpointAuthMethod ?? 'none';
  let secret: string | undefined;
  if (method !== 'none') {
    if (session.clientSource === 'pre-registered') secret = options.clientSecret;
    else {
      const reg = await loadStoredRegistration(input.store, session.issuer, options.callbackHost ?? DEFAULT_CALLBACK_HOST);
      secret = reg && reg.clientId === session.clientId ? reg.clientSecret : undefined;
    }
    deps.log.redactor.addSecret(secret);
  }
  const config = buildConfiguration({
    metadata: { issuer: session.issuer, token_endpoint: tokenEndpoint.href, revocation_endpoint: endpoint.href },
    clientId: session.clientId,
    clientMetadata: { token_endpoint_auth_method: method },
    clientAuth: clientAuthFor(method, secret),
    fetch: deps.fetch,
    signal: input.signal,
    insecure: needsInsecureRequests(endpoint) || needsInsecureRequests(tokenEndpoint),
  });
  const result: RevokeResult = { refreshToken: false, accessToken: false };
  try {
    if (session.refreshToken) {
      await client.tokenRevocation(config, session.refreshToken, { token_type_hint: 'refresh_token' });
      result.refreshToken = true;
    }
  } catch (err) {
    throw toAuthError(err, 'token revocation');
  }
  try {
    await client.tokenRevocation(config, session.accessToken, { token_type_hint: 'access_token' });
    result.accessToken = true;
  } catch (err) {
    // RFC 7009 §2.2.1: a server may not revoke some token types (self-contained JWT access tokens);
    // the token then simply lives out its short lifetime.
    if (oauthErrorCode(err) !== 'unsupported_token_type') throw toAuthError(err, 'token revocation');
    deps.log.debug('the authorization server cannot revoke this access token type; it expires on its own');
  }
  return result;
}

/** Delete a stored session, unless the store now holds a different one (a sibling signed in meanwhile). */
export async function forgetSession(store: TokenStore, key: string, expected?: StoredSession): Promise<boolean> {
  if (expected) {
    const current = parseStoredSession(await store.get(key));
    if (current && current.accessToken !== expected.accessToken) return false;
  }
  return store.delete(key);
}

import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import type { TokenStore } from '../store/tokenStore.js';
import { clientKeyFor } from './clientAssertion.js';
import { loadStoredRegistration } from './clientRegistration.js';
import { checkEndpoint, needsInsecureRequests } from './endpointPolicy.js';
import { oauthErrorCode, sanitizeServerText, toAuthError } from './oauthErrors.js';
import { buildConfiguration, clientAuthFor } from './oidcConfiguration.js';
import { DEFAULT_CALLBACK_HOST, type ClientKeyMaterial } from './options.js';
import type { StoredSession } from './tokenSet.js';

/** Which token a revocation request was about (RFC 7009 §2.1 token_type_hint values). */
export type RevokedTokenKind = 'refresh_token' | 'access_token';

/**
 * The outcome of one revocation request:
 * - revoked: the AS answered 200 (RFC 7009 §2.2: also for a token it no longer knew);
 * - unsupported: the AS does not revoke this kind of token (unsupported_token_type, e.g. a
 *   self-contained JWT access token, which stays valid until it expires);
 * - failed: the request failed or was refused; the token may still be valid.
 */
export interface RevocationResult {
  token: RevokedTokenKind;
  outcome: 'revoked' | 'unsupported' | 'failed';
  /** A sentence for the user; never contains a token. */
  detail: string;
}

/** What revokeSessionTokens needs. */
export interface RevokeInput {
  session: StoredSession;
  /** For the client's secret: the stored dynamic registration lives here. */
  store: TokenStore;
  /** The secret of a pre-registered confidential client (--client-secret-env). */
  clientSecret?: string;
  /** The private key of a private_key_jwt client (--client-key-file). */
  clientKey?: ClientKeyMaterial;
  /** Callback host whose stored registration the session's client came from. */
  callbackHost?: 'localhost' | '127.0.0.1';
  allowHttp?: boolean;
  deps: Pick<Deps, 'fetch' | 'log'>;
  signal?: AbortSignal;
}

/**
 * RFC 7009 token revocation of a stored session's refresh token, then its access token, at the
 * revocation endpoint recorded in the session when it was obtained (never re-discovered: the
 * gateway could since point elsewhere), authenticating as the client was registered.
 * Returns one result per token held; an empty list when the session records no revocation endpoint.
 */
export async function revokeSessionTokens(input: RevokeInput): Promise<RevocationResult[]> {
  const { session, deps } = input;
  if (!session.revocationEndpoint) return [];
  const tokens: [RevokedTokenKind, string][] = [];
  // The refresh token first: revoking it ends the grant, and with it (at most ASes) the access tokens.
  if (session.refreshToken) tokens.push(['refresh_token', session.refreshToken]);
  tokens.push(['access_token', session.accessToken]);

  let config: client.Configuration;
  try {
    const endpoint = checkEndpoint(session.revocationEndpoint, 'revocation_endpoint', { allowHttp: input.allowHttp });
    const method = session.tokenEndpointAuthMethod ?? 'none';
    const secret =
      method === 'none' ? undefined : method === 'private_key_jwt' ? await clientKeyFor(input.clientKey) : await clientSecret(input);
    if (method !== 'none' && secret === undefined) {
      const why =
        method === 'private_key_jwt'
          ? 'pass its private key with --client-key-file, as at sign-in'
          : session.clientSource === 'pre-registered'
            ? 'pass the client secret with --client-secret-env, as at sign-in'
            : 'its stored client registration (with the secret) is gone';
      return tokens.map(([token]) => ({ token, outcome: 'failed', detail: `the client authenticates with a secret: ${why}` }));
    }
    config = buildConfiguration({
      metadata: { issuer: session.issuer, revocation_endpoint: endpoint.href },
      clientId: session.clientId,
      clientMetadata: { token_endpoint_auth_method: method },
      clientAuth: clientAuthFor(method, secret),
      fetch: deps.fetch,
      signal: input.signal,
      insecure: needsInsecureRequests(endpoint),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return tokens.map(([token]) => ({ token, outcome: 'failed', detail: sanitizeServerText(message) }));
  }

  const results: RevocationResult[] = [];
  for (const [token, value] of tokens) {
    try {
      await client.tokenRevocation(config, value, { token_type_hint: token });
      results.push({ token, outcome: 'revoked', detail: 'revoked at the identity provider' });
    } catch (err) {
      if (oauthErrorCode(err) === 'unsupported_token_type') {
        const until = session.expiresAt !== undefined && token === 'access_token' ? ` until ${new Date(session.expiresAt).toISOString()}` : '';
        results.push({ token, outcome: 'unsupported', detail: `the identity provider does not revoke this kind of token; it stays valid${until}` });
        continue;
      }
      const error = toAuthError(err, `revoking the ${token.replace('_', ' ')}`);
      deps.log.debug(error.message);
      results.push({ token, outcome: 'failed', detail: error.message });
    }
  }
  return results;
}

async function clientSecret(input: RevokeInput): Promise<string | undefined> {
  const { session } = input;
  // A client-credentials session keeps the secret it was given at login (see tokenSet.ts).
  if (session.clientSource === 'pre-registered') return input.clientSecret ?? session.clientSecret;
  const reg = await loadStoredRegistration(input.store, session.issuer, input.callbackHost ?? DEFAULT_CALLBACK_HOST);
  const secret = reg && reg.clientId === session.clientId ? reg.clientSecret : undefined;
  input.deps.log.redactor.addSecret(secret);
  return secret;
}

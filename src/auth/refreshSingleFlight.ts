import * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRequiredError } from '../errors.js';
import { raceAbort } from './abortable.js';
import { withLock } from '../store/crossProcessLock.js';
import type { TokenStore } from '../store/tokenStore.js';
import { clientKeyFor } from './clientAssertion.js';
import { dropStoredRegistration, loadStoredRegistration } from './clientRegistration.js';
import { DpopHandleCache } from './dpop/dpopGrant.js';
import { checkEndpoint, needsInsecureRequests } from './endpointPolicy.js';
import { oauthErrorCode, toAuthError } from './oauthErrors.js';
import { buildConfiguration, clientAuthFor } from './oidcConfiguration.js';
import { DEFAULT_CALLBACK_HOST, type AuthOptions } from './options.js';
import { lockName } from './profile.js';
import { readStoredSession } from './storedSessionReader.js';
import { registerSessionSecrets, sessionFromTokenResponse, type StoredSession } from './tokenSet.js';

/** How long to wait for a sibling process's refresh before giving up. */
export const REFRESH_LOCK_TIMEOUT_MS = 60_000;

/** What a Refresher needs. */
export interface RefresherContext {
  options: AuthOptions;
  deps: Deps;
  store: TokenStore;
  /** The session's store key (profileKey). */
  key: string;
  lockDir: string;
  /** Lifetime of the owner (e.g. bridge shutdown); aborts a refresh in progress. */
  signal?: AbortSignal;
}

/**
 * Refresh-token grant (OAuth 2.1 §4.3), single-flight: concurrent callers in this process share
 * one promise, and processes share a lock file. Under the lock the store is read again, and the
 * refresh happens only if it still holds the token the caller found expired — otherwise a
 * sibling already refreshed (or signed in) and its token is adopted. With rotating refresh
 * tokens this is what keeps two bridges from presenting the same refresh token twice.
 */
export class Refresher {
  private inflight: Promise<StoredSession> | undefined;
  /** The DPoP handle of the session's key, kept so the authorization server's nonce carries over. */
  private readonly dpop = new DpopHandleCache();

  constructor(private readonly ctx: RefresherContext) {}

  /** Refresh `stale` (or adopt a newer stored session). Throws AuthRequiredError when the session is unusable. */
  refresh(stale: StoredSession, signal?: AbortSignal): Promise<StoredSession> {
    if (!this.inflight) {
      // The shared work runs on the context's lifetime signal; each caller only stops waiting on its own.
      this.inflight = this.refreshLocked(stale, this.ctx.signal).finally(() => {
        this.inflight = undefined;
      });
    }
    return raceAbort(this.inflight, signal);
  }

  private async refreshLocked(stale: StoredSession, signal?: AbortSignal): Promise<StoredSession> {
    const { deps, store, key } = this.ctx;
    return withLock(lockName('refresh', key), { dir: this.ctx.lockDir, timeoutMs: REFRESH_LOCK_TIMEOUT_MS, signal, clock: deps.clock }, async () => {
      const current = await readStoredSession(store, key, deps.log);
      if (!current) {
        throw new AuthRequiredError(`the stored sign-in for ${stale.server} is gone (signed out elsewhere?)`, 'session_missing');
      }
      if (current.accessToken !== stale.accessToken) {
        deps.log.debug('adopting the token another mcp-keybridge process obtained');
        registerSessionSecrets(deps.log.redactor, current);
        return current;
      }
      if (!current.refreshToken) {
        throw new AuthRequiredError(`the sign-in for ${current.server} has expired and holds no refresh token`, 'session_expired');
      }
      const refreshed = await this.grant(current, signal);
      // A sign-in is not serialised with refreshes: if one stored a new session while our request
      // was on its way (login --force as another account, a step-up), that session wins.
      const now = await readStoredSession(store, key, deps.log);
      if (now && now.accessToken !== current.accessToken) {
        deps.log.debug('a new session was stored while refreshing; adopting it instead of the refreshed one');
        registerSessionSecrets(deps.log.redactor, now);
        return now;
      }
      await store.set(key, refreshed);
      return refreshed;
    });
  }

  private async grant(current: StoredSession, signal?: AbortSignal): Promise<StoredSession> {
    const { deps, options } = this.ctx;
    const tokenEndpoint = checkEndpoint(current.tokenEndpoint, 'token_endpoint', { allowHttp: options.allowHttp });
    const method = current.tokenEndpointAuthMethod ?? 'none';
    const secret =
      method === 'none' ? undefined : method === 'private_key_jwt' ? await clientKeyFor(options.clientKey) : await this.clientSecret(current);
    // The stored endpoints stand in for discovery: a refresh needs no metadata beyond them.
    const metadata: client.ServerMetadata = {
      issuer: current.issuer,
      token_endpoint: tokenEndpoint.href,
      ...(current.idTokenSigningAlgs ? { id_token_signing_alg_values_supported: current.idTokenSigningAlgs } : {}),
    };
    const config = buildConfiguration({
      metadata,
      clientId: current.clientId,
      clientMetadata: { token_endpoint_auth_method: method },
      clientAuth: clientAuthFor(method, secret),
      fetch: deps.fetch,
      signal,
      insecure: needsInsecureRequests(tokenEndpoint),
    });
    try {
      // RFC 8707 §2.2: repeat the resource so the new access token keeps its audience.
      // RFC 9449 §5: a bound session refreshes with a proof of the same key (for a public client
      // the refresh token itself is bound to it), so the new tokens keep the binding.
      const dpop = await this.dpop.optionsFor(config, current.dpop && { key: current.dpop, required: true });
      const response = await client.refreshTokenGrant(config, current.refreshToken!, current.resource ? { resource: current.resource } : undefined, dpop);
      const next = sessionFromTokenResponse(response, pickContext(current), deps.clock.now(), current);
      registerSessionSecrets(deps.log.redactor, next);
      deps.log.debug('refreshed the access token');
      return next;
    } catch (err) {
      const code = oauthErrorCode(err);
      if (code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client') {
        const sibling = await this.forget(current, code);
        if (sibling) {
          // A sibling signed in while our refresh was refused: its session is the one to use.
          deps.log.debug('the refresh was refused, but another mcp-keybridge process stored a new session meanwhile; adopting it');
          registerSessionSecrets(deps.log.redactor, sibling);
          return sibling;
        }
        throw new AuthRequiredError(
          `the sign-in for ${current.server} has expired or was revoked (${code}); sign in again`,
          code === 'invalid_grant' ? 'session_expired' : 'client_unknown',
          err,
        );
      }
      throw toAuthError(err, 'token refresh');
    }
  }

  /**
   * The refresh was refused for good: drop the session — unless a sibling wrote a new one
   * meanwhile (a sign-in is not serialised with refreshes), which is returned instead.
   */
  private async forget(refused: StoredSession, code: string): Promise<StoredSession | undefined> {
    const { store, key, options, deps } = this.ctx;
    const now = await readStoredSession(store, key, deps.log);
    const sibling = now && (now.accessToken !== refused.accessToken || now.refreshToken !== refused.refreshToken) ? now : undefined;
    if (now && !sibling) await store.delete(key);
    if (code !== 'invalid_grant' && refused.clientSource === 'dynamic') {
      await dropStoredRegistration(store, { issuer: refused.issuer, clientId: refused.clientId }, options.callbackHost ?? DEFAULT_CALLBACK_HOST);
    }
    return sibling;
  }

  private async clientSecret(session: StoredSession): Promise<string | undefined> {
    const { options, store, deps } = this.ctx;
    if (session.clientSource === 'pre-registered') return options.clientSecret ?? session.clientSecret;
    const reg = await loadStoredRegistration(store, session.issuer, options.callbackHost ?? DEFAULT_CALLBACK_HOST);
    const secret = reg && reg.clientId === session.clientId ? reg.clientSecret : undefined;
    deps.log.redactor.addSecret(secret);
    return secret;
  }
}

function pickContext(s: StoredSession): Parameters<typeof sessionFromTokenResponse>[1] {
  return {
    server: s.server,
    resource: s.resource,
    issuer: s.issuer,
    clientId: s.clientId,
    clientSource: s.clientSource,
    tokenEndpointAuthMethod: s.tokenEndpointAuthMethod,
    tokenEndpoint: s.tokenEndpoint,
    revocationEndpoint: s.revocationEndpoint,
    idTokenSigningAlgs: s.idTokenSigningAlgs,
    grant: s.grant,
    bearer: s.bearer,
    dpop: s.dpop,
  };
}

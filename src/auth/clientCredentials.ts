import * as client from 'openid-client';
import { AuthRefusedError, AuthRequiredError } from '../errors.js';
import type { Challenge, RequestTarget } from '../remote/remoteAuth.js';
import { withLock } from '../store/crossProcessLock.js';
import { raceAbort } from './abortable.js';
import { dpopBindingFor, grantDpopOptions } from './dpop/dpopGrant.js';
import { authorizationValue, DpopRequestAuth, storedBindingFits } from './dpop/dpopRequestAuth.js';
import type { AuthSession, AuthSessionInput } from './authSession.js';
import { chooseResource, chooseScope } from './authorizationCode.js';
import { preRegisteredClient } from './clientRegistration.js';
import { discoverAuthorizationTarget } from './authorizationDiscovery.js';
import { checkEndpoint, needsInsecureRequests } from './endpointPolicy.js';
import { oauthErrorCode, toAuthError } from './oauthErrors.js';
import { buildConfiguration, clientAuthFor } from './oidcConfiguration.js';
import { JWT_BEARER_GRANT } from './enterpriseAccess.js';
import { canonicalServerUrl, lockName, profileKeyFor } from './profile.js';
import { enforceSecretBinding } from './secretBinding.js';
import { stepUpScope } from './stepUp.js';
import { readStoredSession } from './storedSessionReader.js';
import { isExpiring, registerSessionSecrets, sessionFromTokenResponse, type StoredSession } from './tokenSet.js';
import { parseBearerChallenge } from './wwwAuthenticate.js';

/** Fetch a new machine token this long before the held one expires. */
const MACHINE_EXPIRY_SKEW_MS = 30_000;
/** How long to wait for a sibling process fetching the same machine token. */
const MACHINE_LOCK_TIMEOUT_MS = 60_000;

/** Create the AuthSession of a --grant client-credentials profile (machine access, no user). */
export function createMachineSession(input: AuthSessionInput): AuthSession {
  return new MachineSession(input);
}

/**
 * Client credentials (OAuth 2.1 §4.2, RFC 6749 §4.4): the client authenticates as itself with its
 * secret or private key; no browser, no user, no refresh token (RFC 6749 §4.4.3) — a new token is
 * fetched when the held one expires or is refused. Stored under a "machine:" key, so such a
 * session is never sent for a user's profile, nor a user's session for this one.
 */
class MachineSession implements AuthSession {
  readonly key: string;
  private readonly server: string;
  private cached: StoredSession | null | undefined;
  private fetching: Promise<StoredSession> | undefined;
  /** DPoP proofs and the gateway's nonces, for DPoP-bound machine tokens. */
  private readonly dpop: DpopRequestAuth;

  constructor(private readonly input: AuthSessionInput) {
    this.server = canonicalServerUrl(input.options.serverUrl);
    this.key = profileKeyFor(input.options);
    this.dpop = new DpopRequestAuth(input.deps.clock);
  }

  async currentSession(): Promise<StoredSession | undefined> {
    if (this.cached === undefined) this.cached = (await this.readStore()) ?? null;
    return this.cached ?? undefined;
  }

  async authorizationHeader(signal?: AbortSignal): Promise<string | undefined> {
    const session = await this.sessionForRequest(signal);
    return session && authorizationValue(session);
  }

  async requestHeaders(target: RequestTarget, signal?: AbortSignal): Promise<Record<string, string>> {
    const session = await this.sessionForRequest(signal);
    return session ? this.dpop.headersFor(session, target) : {};
  }

  /** The held token, or a new one when it is about to expire (and the credentials are at hand). */
  private async sessionForRequest(signal?: AbortSignal): Promise<StoredSession | undefined> {
    const session = await this.currentSession();
    const now = this.input.deps.clock.now();
    if (!session || isExpiring(session, now, MACHINE_EXPIRY_SKEW_MS)) {
      if (!this.hasCredentials(session)) return session?.accessToken ? session : undefined;
      return this.fetchToken({ stale: session, signal });
    }
    return session;
  }

  async handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void> {
    const bearer = parseBearerChallenge(challenge.wwwAuthenticate) ?? {};
    // RFC 9449 §9: the gateway wants a nonce in the proof; replay with it.
    if ((await this.currentSession())?.dpop && this.dpop.takeChallenge(challenge, attempt, this.input.options.serverUrl.origin)) return;
    const insufficientScope = challenge.status === 403 && bearer.error === 'insufficient_scope';
    if (challenge.status !== 401 && !insufficientScope) {
      throw new AuthRefusedError(`the gateway refused the request (HTTP ${challenge.status})`, 'gateway_refused');
    }
    if (attempt >= 2) {
      throw new AuthRefusedError(
        insufficientScope
          ? `the gateway ${this.server} demands the scope "${bearer.scope ?? '?'}", which the client ${this.input.options.clientId} was not granted`
          : `the gateway ${this.server} refuses the new machine token of client ${this.input.options.clientId} (${bearer.errorDescription ?? bearer.error ?? 'HTTP 401'})`,
        insufficientScope ? 'insufficient_scope' : 'token_refused',
      );
    }
    const held = await this.currentSession();
    // For a machine a "step-up" is just a new token request for the wider scope.
    const scope = insufficientScope ? stepUpScope({ held: held?.scope, option: this.input.options.scope, demanded: bearer.scope }) : undefined;
    await this.fetchToken({ stale: held, force: true, scope, challengeScope: bearer.scope, resourceMetadata: bearer.resourceMetadata, signal });
  }

  async signIn(opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<StoredSession> {
    const held = await this.currentSession();
    if (!opts.force && held && !isExpiring(held, this.input.deps.clock.now(), MACHINE_EXPIRY_SKEW_MS)) return held;
    return this.fetchToken({ stale: held, force: true, signal: opts.signal });
  }

  private hasCredentials(session: StoredSession | undefined): boolean {
    const { options } = this.input;
    return Boolean(options.clientSecret || options.clientKey || options.assertion || session?.clientSecret);
  }

  /** One client credentials request at a time in this process, and under a lock across processes. */
  private fetchToken(args: {
    stale: StoredSession | undefined;
    force?: boolean;
    scope?: string;
    challengeScope?: string;
    resourceMetadata?: string;
    signal?: AbortSignal;
  }): Promise<StoredSession> {
    const { deps, store } = this.input;
    if (!this.fetching) {
      const work = withLock(
        lockName('refresh', this.key),
        { dir: this.input.lockDir, timeoutMs: MACHINE_LOCK_TIMEOUT_MS, signal: this.input.signal, clock: deps.clock },
        async () => {
          // A sibling may have fetched a token meanwhile: use it unless this one was refused.
          const stored = await this.readStore();
          if (stored && stored.accessToken !== args.stale?.accessToken && !isExpiring(stored, deps.clock.now(), MACHINE_EXPIRY_SKEW_MS)) {
            this.cached = stored;
            return stored;
          }
          const session = await this.grant(args, stored ?? args.stale);
          await store.set(this.key, session);
          this.cached = session;
          deps.log.info(`obtained a machine access token for ${this.server} (client ${session.clientId})`);
          return session;
        },
      );
      this.fetching = work.finally(() => {
        this.fetching = undefined;
      });
    }
    return raceAbort(this.fetching, args.signal);
  }

  private async grant(
    args: { scope?: string; challengeScope?: string; resourceMetadata?: string },
    previous: StoredSession | undefined,
  ): Promise<StoredSession> {
    const { options, deps } = this.input;
    const signal = this.input.signal;
    const clientId = options.clientId!;
    let resource = chooseResource(options);
    let metadata: client.ServerMetadata;
    let insecure: boolean;
    let scopesSupported: string[] | undefined;
    if (options.tokenEndpoint) {
      // No discovery: the token endpoint stands in for the issuer (it is the assertion audience too, RFC 7523 §3).
      const url = checkEndpoint(options.tokenEndpoint, '--token-endpoint');
      metadata = { issuer: url.href, token_endpoint: url.href };
      insecure = needsInsecureRequests(url);
    } else {
      const target = await discoverAuthorizationTarget({
        options,
        resourceMetadataUrl: args.resourceMetadata,
        fetch: deps.fetch,
        log: deps.log,
        signal,
        // PKCE belongs to the browser sign-in; a machine token request has no code to protect.
        requirePkce: false,
      });
      metadata = target.server.metadata;
      insecure = target.server.insecure;
      scopesSupported = target.scopesSupported;
      resource = target.resource;
    }
    // A secret kept from an earlier run goes only to the authorization server it was used with:
    // if the gateway now names another one, ask the user instead of sending it there.
    if (previous && !options.clientSecret && previous.clientSecret && metadata.issuer !== previous.issuer) {
      throw new AuthRefusedError(
        `the gateway now names the authorization server ${metadata.issuer}, not ${previous.issuer} where the stored client credentials were used; run \`mcp-keybridge login ${this.server} --grant client-credentials …\` again if you trust it`,
        'issuer_changed',
      );
    }
    const secret = options.clientSecret ?? previous?.clientSecret;
    const resolved = await preRegisteredClient({ clientId, clientSecret: options.clientKey ? undefined : secret, clientKey: options.clientKey }, metadata, deps);
    // A workload's JWT is its credential (RFC 7523 §2.1); client authentication is optional there.
    if (resolved.tokenEndpointAuthMethod === 'none' && !options.assertion) {
      throw new AuthRequiredError(
        `client credentials for ${clientId} are needed: pass --client-secret-env or --client-key-file (or run \`mcp-keybridge login ${this.server} --grant client-credentials …\` with them once)`,
        'client_credentials_missing',
      );
    }
    // The credential goes only to the authorization server it was first used with (secretBinding.ts).
    if (resolved.tokenEndpointAuthMethod !== 'none') {
      await enforceSecretBinding({
        store: this.input.store,
        server: this.server,
        clientId,
        issuer: metadata.issuer,
        pinnedIssuer: options.issuer,
        rebind: options.rebindIssuer,
        howToAccept: `mcp-keybridge login ${this.server} --grant client-credentials --client-id ${clientId} --force …`,
      });
    }
    const config = buildConfiguration({
      metadata,
      clientId,
      clientMetadata: { token_endpoint_auth_method: resolved.tokenEndpointAuthMethod },
      clientAuth: clientAuthFor(resolved.tokenEndpointAuthMethod, resolved.clientKey ?? resolved.clientSecret),
      fetch: deps.fetch,
      signal,
      insecure,
    });
    const scope = args.scope ?? chooseScope({ optionScope: options.scope, challengeScope: args.challengeScope, scopesSupported });
    const params: Record<string, string> = {};
    if (scope) params.scope = scope;
    if (resource) params.resource = resource;
    // RFC 9449: the machine's tokens are bound too, to the key it already holds when that still fits.
    const dpop = await dpopBindingFor({ options, serverAlgs: metadata.dpop_signing_alg_values_supported, reuse: previous?.dpop, log: deps.log });
    const dpopOptions = await grantDpopOptions(config, dpop, metadata.dpop_signing_alg_values_supported);
    let response: Awaited<ReturnType<typeof client.clientCredentialsGrant>>;
    try {
      if (options.assertion) {
        // Re-read at every token request: platforms rotate these tokens in place. A refusal is
        // final — no other grant is tried with the same identity (the scenario of a stolen or
        // mis-scoped workload token must not turn into a broader request).
        const assertion = await options.assertion.read();
        deps.log.redactor.addSecret(assertion);
        response = await client.genericGrantRequest(config, JWT_BEARER_GRANT, { ...params, assertion }, dpopOptions);
      } else {
        response = await client.clientCredentialsGrant(config, params, dpopOptions);
      }
    } catch (err) {
      if (options.assertion) throw toAuthError(err, `JWT bearer grant with the workload assertion from ${options.assertion.describe}`);
      const code = oauthErrorCode(err);
      if (code === 'invalid_client' || code === 'unauthorized_client') {
        throw new AuthRefusedError(`the authorization server refused the client ${clientId} (${code}): check its secret or key, and that it may use client credentials`, `oauth_${code}`, err);
      }
      throw toAuthError(err, 'client credentials token request');
    }
    const session = sessionFromTokenResponse(
      response,
      {
        server: this.server,
        resource,
        issuer: metadata.issuer,
        clientId,
        clientSource: 'pre-registered',
        tokenEndpointAuthMethod: resolved.tokenEndpointAuthMethod,
        tokenEndpoint: metadata.token_endpoint!,
        revocationEndpoint: metadata.revocation_endpoint,
        grant: options.assertion ? 'jwt_bearer' : 'client_credentials',
        dpop: dpop?.key,
        dpopRequired: dpop?.required,
      },
      deps.clock.now(),
      undefined,
      scope,
    );
    // RFC 6749 §4.4.3: no refresh token for client credentials; keep the secret for the next fetch.
    delete session.refreshToken;
    if (resolved.tokenEndpointAuthMethod !== 'private_key_jwt' && secret) session.clientSecret = secret;
    registerSessionSecrets(deps.log.redactor, session);
    return session;
  }

  private async readStore(): Promise<StoredSession | undefined> {
    const session = await readStoredSession(this.input.store, this.key, this.input.deps.log);
    // Only a machine session for this very server and client is ever used here.
    const grant = this.input.options.assertion ? 'jwt_bearer' : 'client_credentials';
    if (!session || session.server !== this.server || session.grant !== grant || session.clientId !== this.input.options.clientId) return undefined;
    if (!storedBindingFits(this.input.options.dpop, session)) return undefined;
    registerSessionSecrets(this.input.deps.log.redactor, session);
    return session;
  }
}

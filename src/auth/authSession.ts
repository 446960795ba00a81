import type { Deps } from '../deps.js';
import { AuthRefusedError, AuthRequiredError } from '../errors.js';
import type { Challenge, RemoteAuth, RequestTarget } from '../remote/remoteAuth.js';
import { withLock } from '../store/crossProcessLock.js';
import type { TokenStore } from '../store/tokenStore.js';
import { raceAbort } from './abortable.js';
import { authorizationValue, dpopRefusalHint, DpopRequestAuth, storedBindingFits } from './dpop/dpopRequestAuth.js';
import { isMachineGrant, type AuthOptions } from './options.js';
import { canonicalServerUrl, lockName, profileKeyFor } from './profile.js';
// Refresh, sign-in, step-up and machine sessions need the OAuth stack (openid-client, oauth4webapi,
// jose): loaded by import() when first needed, so a bridge with a valid stored token pays only the
// store read at its first request.
import type { Refresher } from './refreshSingleFlight.js';
import { readStoredSession } from './storedSessionReader.js';
import { isExpired, isExpiring, registerSessionSecrets, type StoredSession } from './tokenSet.js';
import { parseBearerChallenge, type BearerChallenge } from './wwwAuthenticate.js';

/** Refresh this long before the access token expires, so requests never carry a token about to lapse. */
export const EXPIRY_SKEW_MS = 60_000;

/**
 * How long before its expiry a session is refreshed: EXPIRY_SKEW_MS, but at most a third of the
 * token's lifetime. A token that lives less than the skew would otherwise count as expiring the
 * moment it is issued, and every request would refresh it again.
 */
export function refreshSkewMs(session: Pick<StoredSession, 'expiresAt' | 'obtainedAt'>): number {
  if (session.expiresAt === undefined) return EXPIRY_SKEW_MS;
  const lifetime = session.expiresAt - session.obtainedAt;
  return Math.max(0, Math.min(EXPIRY_SKEW_MS, lifetime / 3));
}
/** Extra time to wait for a sibling's sign-in lock beyond that sibling's own sign-in deadline. */
const SIGNIN_LOCK_SLACK_MS = 30_000;

/** The sign-in machinery for one gateway profile: what the remote transport and the CLI commands use. */
export interface AuthSession extends RemoteAuth {
  /** The store key of this profile's session. */
  readonly key: string;
  /**
   * Sign in interactively and store the session. Without force, a session that is still valid
   * (or refreshable) is returned as is. Throws AuthRequiredError when options.interactive is false.
   */
  signIn(opts?: { force?: boolean; signal?: AbortSignal }): Promise<StoredSession>;
  /** The stored session (read once, then cached), or undefined when signed out. */
  currentSession(): Promise<StoredSession | undefined>;
}

/** What createAuthSession needs. */
export interface AuthSessionInput {
  options: AuthOptions;
  deps: Deps;
  store: TokenStore;
  /** Directory for cross-process lock files (src/store/paths.ts lockDir). */
  lockDir: string;
  /** Lifetime of the owner (bridge shutdown, Ctrl-C): aborts a sign-in or refresh in progress. */
  signal?: AbortSignal;
}

/** Create the AuthSession for options.serverUrl (and the profile's client id, resource and scope). */
export function createAuthSession(input: AuthSessionInput): AuthSession {
  if (isMachineGrant(input.options.grant)) return new LazyMachineSession(input);
  return new DefaultAuthSession(input);
}

class DefaultAuthSession implements AuthSession {
  readonly key: string;
  private readonly server: string;
  private refresherLoad: Promise<Refresher> | undefined;
  /** undefined: not loaded yet; null: loaded, none stored. */
  private cached: StoredSession | null | undefined;
  private loading: Promise<StoredSession | null> | undefined;
  private signingIn: Promise<StoredSession> | undefined;
  /** Access token obtained by this object's latest interactive sign-in (the loop breaker's reference). */
  private lastSignInToken: string | undefined;
  /** DPoP proofs and the gateway's nonces, for a session whose tokens are DPoP-bound. */
  private readonly dpop: DpopRequestAuth;

  constructor(private readonly input: AuthSessionInput) {
    const { options } = input;
    this.server = canonicalServerUrl(options.serverUrl);
    this.key = profileKeyFor(options);
    this.dpop = new DpopRequestAuth(input.deps.clock);
  }

  /** The one Refresher of this session (single flight), its module loaded on first use. */
  private refresher(): Promise<Refresher> {
    const { options, deps, store, lockDir, signal } = this.input;
    this.refresherLoad ??= import('./refreshSingleFlight.js').then(({ Refresher }) => new Refresher({ options, deps, store, key: this.key, lockDir, signal }));
    return this.refresherLoad;
  }

  async currentSession(): Promise<StoredSession | undefined> {
    return (await this.load()) ?? undefined;
  }

  async authorizationHeader(signal?: AbortSignal): Promise<string | undefined> {
    const session = await this.sessionForRequest(signal);
    return session && authorizationValue(session);
  }

  async requestHeaders(target: RequestTarget, signal?: AbortSignal): Promise<Record<string, string>> {
    const session = await this.sessionForRequest(signal);
    return session ? this.dpop.headersFor(session, target) : {};
  }

  /** The session the next request presents (refreshed first when about to expire), or undefined to send none. */
  private async sessionForRequest(signal?: AbortSignal): Promise<StoredSession | undefined> {
    let session = await this.load();
    if (!session) return undefined;
    const now = this.input.deps.clock.now();
    if (session.refreshToken && isExpiring(session, now, refreshSkewMs(session))) {
      try {
        session = await (await this.refresher()).refresh(session, signal);
        this.cached = session;
      } catch (err) {
        if (err instanceof AuthRequiredError && err.code !== 'auth_cancelled') {
          // The refresh was refused for good; send nothing, so the 401 leads to a sign-in.
          this.input.deps.log.info(err.message);
          this.cached = null;
          return undefined;
        }
        if (err instanceof AuthRequiredError) throw err; // this request was cancelled
        // A transient failure (IdP unreachable): keep sending the current token, even past its
        // expiry by our clock, until the gateway refuses it; the 401 then tries the refresh once
        // more and reports why it failed. Signing in would need the same identity provider.
        this.input.deps.log.debug(`token refresh failed, using the current token until the gateway refuses it: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return session;
  }

  async handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void> {
    const bearer = parseBearerChallenge(challenge.wwwAuthenticate) ?? {};
    const held = (await this.load()) ?? undefined;
    // RFC 9449 §9: the gateway wants a nonce in the proof; replay with it (no refresh, no sign-in).
    if (held?.dpop && this.dpop.takeChallenge(challenge, attempt, this.input.options.serverUrl.origin)) return;
    const insufficientScope = challenge.status === 403 && bearer.error === 'insufficient_scope';
    if (challenge.status !== 401 && !insufficientScope) {
      throw new AuthRefusedError(`the gateway refused the request (HTTP ${challenge.status})`, 'gateway_refused');
    }
    // Loop breaker: a token fresh from an interactive sign-in that is still refused will not get better.
    if (attempt >= 2 && held !== undefined && held.accessToken === this.lastSignInToken) {
      if (insufficientScope) throw (await import('./stepUp.js')).stepUpRefused({ server: this.server, granted: held.scope, demanded: bearer.scope });
      const why = insufficientScope ? `it lacks the scope "${bearer.scope ?? '?'}"` : (bearer.errorDescription ?? bearer.error ?? 'HTTP 401');
      throw new AuthRefusedError(
        `the gateway still refuses the new token from a fresh sign-in (${why}); check that your account may use ${this.server}${dpopRefusalHint(held, challenge.wwwAuthenticate)}`,
        insufficientScope ? 'insufficient_scope' : 'token_refused',
      );
    }
    if (attempt >= 3) {
      throw new AuthRefusedError(`the gateway keeps refusing the token after a refresh and a sign-in`, 'token_refused');
    }

    if (insufficientScope) {
      // Step-up (MCP authorization spec, "Scope Challenge Handling"): a refresh cannot widen the grant.
      const { stepUpFailed, stepUpNotice, stepUpScope } = await import('./stepUp.js');
      const scope = stepUpScope({ held: held?.scope, option: this.input.options.scope, demanded: bearer.scope });
      this.input.deps.log.info(stepUpNotice(held?.scope, bearer.scope));
      await this.interactiveSignIn({ challenge: bearer, scopeOverride: scope, force: true, stale: held, signal }).catch((err: unknown) => {
        throw stepUpFailed(err, bearer.scope);
      });
      return;
    }

    if (attempt === 1) {
      const stored = await this.readStore();
      if (stored && stored.accessToken !== held?.accessToken) {
        // A sibling process refreshed or signed in meanwhile: replay with its token.
        this.adopt(stored);
        return;
      }
      if (held?.refreshToken) {
        try {
          this.cached = await (await this.refresher()).refresh(held, signal);
          return;
        } catch (err) {
          if (!(err instanceof AuthRequiredError) || err.code === 'auth_cancelled') throw err;
          this.input.deps.log.info(err.message);
          this.cached = null;
        }
      }
    }
    await this.interactiveSignIn({ challenge: bearer, force: attempt >= 2, stale: held, signal });
  }

  async signIn(opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<StoredSession> {
    const held = (await this.load()) ?? undefined;
    if (!opts.force && held) {
      const now = this.input.deps.clock.now();
      if (!isExpiring(held, now, refreshSkewMs(held))) return held;
      if (held.refreshToken) {
        try {
          const refreshed = await (await this.refresher()).refresh(held, opts.signal);
          this.cached = refreshed;
          return refreshed;
        } catch (err) {
          if (!(err instanceof AuthRequiredError) || err.code === 'auth_cancelled') throw err;
          this.cached = null;
        }
      }
    }
    return this.interactiveSignIn({ force: opts.force ?? false, stale: held, signal: opts.signal });
  }

  /** Interactive sign-in, single-flight in this process and under the cross-process sign-in lock. */
  private interactiveSignIn(args: {
    challenge?: BearerChallenge;
    scopeOverride?: string;
    force: boolean;
    stale: StoredSession | undefined;
    signal?: AbortSignal;
  }): Promise<StoredSession> {
    const { options, deps, store } = this.input;
    if (!options.interactive) {
      return Promise.reject(
        new AuthRequiredError(`sign-in required for ${this.server}: run \`mcp-keybridge login ${this.server}\` in a terminal, then retry`),
      );
    }
    if (!this.signingIn) {
      let announced = false;
      const work = withLock(
        lockName('signin', this.key),
        {
          dir: this.input.lockDir,
          timeoutMs: options.authTimeoutMs + SIGNIN_LOCK_SLACK_MS,
          signal: this.input.signal,
          clock: deps.clock,
          onWait: () => {
            if (!announced) deps.log.info('waiting for a sign-in in another mcp-keybridge process…');
            announced = true;
          },
        },
        async () => {
          // A sibling may have signed in while we waited for the lock: adopt its session.
          const stored = await this.readStore();
          if (!args.force && stored && stored.accessToken !== args.stale?.accessToken && !isExpired(stored, deps.clock.now())) {
            this.adopt(stored);
            return stored;
          }
          const { performSignIn } = await import('./signInFlow.js');
          const session = await performSignIn({
            options,
            deps,
            store,
            challenge: args.challenge,
            scopeOverride: args.scopeOverride,
            signal: this.input.signal,
          });
          await store.set(this.key, session);
          this.cached = session;
          this.lastSignInToken = session.accessToken;
          deps.log.info(`signed in to ${this.server}${session.email ? ` as ${session.email}` : session.subject ? ` as ${session.subject}` : ''}`);
          return session;
        },
      );
      this.signingIn = work.finally(() => {
        this.signingIn = undefined;
      });
    }
    return raceAbort(this.signingIn, args.signal);
  }

  private adopt(session: StoredSession): void {
    registerSessionSecrets(this.input.deps.log.redactor, session);
    this.cached = session;
    this.input.deps.log.debug('adopted the session stored by another mcp-keybridge process');
  }

  private async readStore(): Promise<StoredSession | undefined> {
    const session = await readStoredSession(this.input.store, this.key, this.input.deps.log);
    // Defensive: a record under our key for another server is not ours to send anywhere.
    if (session && session.server !== this.server) return undefined;
    // A machine (client credentials) session is never a user's; their keys differ, this is belt and braces.
    if (session?.grant === 'client_credentials') return undefined;
    if (session && !storedBindingFits(this.input.options.dpop, session)) return undefined;
    if (session) registerSessionSecrets(this.input.deps.log.redactor, session);
    return session;
  }

  private load(): Promise<StoredSession | null> {
    if (this.cached !== undefined) return Promise.resolve(this.cached);
    if (!this.loading) {
      this.loading = this.readStore()
        .then((s) => {
          if (this.cached === undefined) this.cached = s ?? null;
          return this.cached;
        })
        .finally(() => {
          this.loading = undefined;
        });
    }
    return this.loading;
  }
}

/** A client-credentials session (src/auth/clientCredentials.ts), its module loaded on first use. */
class LazyMachineSession implements AuthSession {
  /** Same key as the machine session's own (profileKeyFor the options). */
  readonly key: string;
  private loaded: Promise<AuthSession> | undefined;

  constructor(private readonly input: AuthSessionInput) {
    this.key = profileKeyFor(input.options);
  }

  private session(): Promise<AuthSession> {
    this.loaded ??= import('./clientCredentials.js').then(({ createMachineSession }) => createMachineSession(this.input));
    return this.loaded;
  }

  async signIn(opts?: { force?: boolean; signal?: AbortSignal }): Promise<StoredSession> {
    return (await this.session()).signIn(opts);
  }

  async currentSession(): Promise<StoredSession | undefined> {
    return (await this.session()).currentSession();
  }

  async authorizationHeader(signal?: AbortSignal): Promise<string | undefined> {
    return (await this.session()).authorizationHeader(signal);
  }

  async requestHeaders(target: RequestTarget, signal?: AbortSignal): Promise<Record<string, string>> {
    return (await this.session()).requestHeaders(target, signal);
  }

  async handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void> {
    return (await this.session()).handleChallenge(challenge, attempt, signal);
  }
}

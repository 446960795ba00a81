import type { Deps } from '../deps.js';
import { AuthRefusedError, AuthRequiredError } from '../errors.js';
import type { Challenge, RemoteAuth } from '../remote/remoteAuth.js';
import { withLock } from '../store/crossProcessLock.js';
import type { TokenStore } from '../store/tokenStore.js';
import { raceAbort } from './abortable.js';
import type { AuthOptions } from './options.js';
import { canonicalServerUrl, lockName, profileKey } from './profile.js';
import { Refresher } from './refreshSingleFlight.js';
import { performSignIn } from './signInFlow.js';
import { isExpired, isExpiring, parseStoredSession, registerSessionSecrets, type StoredSession } from './tokenSet.js';
import { parseBearerChallenge, type BearerChallenge } from './wwwAuthenticate.js';

/** Refresh this long before the access token expires, so requests never carry a token about to lapse. */
export const EXPIRY_SKEW_MS = 60_000;
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
  return new DefaultAuthSession(input);
}

function unionScopes(...scopes: (string | undefined)[]): string | undefined {
  const set = new Set(scopes.flatMap((s) => (s ?? '').split(/\s+/)).filter(Boolean));
  return set.size > 0 ? [...set].join(' ') : undefined;
}

class DefaultAuthSession implements AuthSession {
  readonly key: string;
  private readonly server: string;
  private readonly refresher: Refresher;
  /** undefined: not loaded yet; null: loaded, none stored. */
  private cached: StoredSession | null | undefined;
  private loading: Promise<StoredSession | null> | undefined;
  private signingIn: Promise<StoredSession> | undefined;
  /** Access token obtained by this object's latest interactive sign-in (the loop breaker's reference). */
  private lastSignInToken: string | undefined;

  constructor(private readonly input: AuthSessionInput) {
    const { options } = input;
    this.server = canonicalServerUrl(options.serverUrl);
    this.key = profileKey({ server: options.serverUrl, clientId: options.clientId, resource: options.resource, scope: options.scope });
    this.refresher = new Refresher({ options, deps: input.deps, store: input.store, key: this.key, lockDir: input.lockDir, signal: input.signal });
  }

  async currentSession(): Promise<StoredSession | undefined> {
    return (await this.load()) ?? undefined;
  }

  async authorizationHeader(signal?: AbortSignal): Promise<string | undefined> {
    let session = await this.load();
    if (!session) return undefined;
    const now = this.input.deps.clock.now();
    if (session.refreshToken && isExpiring(session, now, EXPIRY_SKEW_MS)) {
      try {
        session = await this.refresher.refresh(session, signal);
        this.cached = session;
      } catch (err) {
        if (err instanceof AuthRequiredError && err.code !== 'auth_cancelled') {
          // The refresh was refused for good; send nothing, so the 401 leads to a sign-in.
          this.input.deps.log.info(err.message);
          this.cached = null;
          return undefined;
        }
        // A transient failure (IdP unreachable): a token that has not lapsed yet is still worth sending.
        if (isExpired(session, this.input.deps.clock.now())) throw err;
        this.input.deps.log.debug(`token refresh failed, using the current token until it expires: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return `Bearer ${session.accessToken}`;
  }

  async handleChallenge(challenge: Challenge, attempt: number, signal?: AbortSignal): Promise<void> {
    const bearer = parseBearerChallenge(challenge.wwwAuthenticate) ?? {};
    const held = (await this.load()) ?? undefined;
    const insufficientScope = challenge.status === 403 && bearer.error === 'insufficient_scope';
    if (challenge.status !== 401 && !insufficientScope) {
      throw new AuthRefusedError(`the gateway refused the request (HTTP ${challenge.status})`, 'gateway_refused');
    }
    // Loop breaker: a token fresh from an interactive sign-in that is still refused will not get better.
    if (attempt >= 2 && held !== undefined && held.accessToken === this.lastSignInToken) {
      const why = insufficientScope ? `it lacks the scope "${bearer.scope ?? '?'}"` : (bearer.errorDescription ?? bearer.error ?? 'HTTP 401');
      throw new AuthRefusedError(
        `the gateway still refuses the new token from a fresh sign-in (${why}); check that your account may use ${this.server}`,
        insufficientScope ? 'insufficient_scope' : 'token_refused',
      );
    }
    if (attempt >= 3) {
      throw new AuthRefusedError(`the gateway keeps refusing the token after a refresh and a sign-in`, 'token_refused');
    }

    if (insufficientScope) {
      // Step-up (MCP authorization spec, "Scope Challenge Handling"): a refresh cannot widen the grant.
      const scope = unionScopes(held?.scope, this.input.options.scope, bearer.scope);
      await this.interactiveSignIn({ challenge: bearer, scopeOverride: scope, force: true, stale: held, signal });
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
          this.cached = await this.refresher.refresh(held, signal);
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
      if (!isExpiring(held, now, EXPIRY_SKEW_MS)) return held;
      if (held.refreshToken) {
        try {
          const refreshed = await this.refresher.refresh(held, opts.signal);
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
    const session = parseStoredSession(await this.input.store.get(this.key));
    // Defensive: a record under our key for another server is not ours to send anywhere.
    if (session && session.server !== this.server) return undefined;
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

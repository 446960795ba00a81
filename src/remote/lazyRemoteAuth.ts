import { StoreUnavailableError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RemoteAuth } from './remoteAuth.js';

/**
 * Defers loading the sign-in machinery (openid-client, the keychain module) until the first
 * request needs it, keeping the bridge's start path light. A store that cannot be opened does
 * not block a gateway that needs no token: the request goes out without Authorization, and only
 * a 401 surfaces the store's error (with its fix).
 */
export function lazyRemoteAuth(
  load: () => Promise<RemoteAuth>,
  log: Logger,
  opts: {
    /** False when the store provably holds no session for this profile: nothing is loaded until a 401. */
    mayHaveSession?: () => Promise<boolean>;
  } = {},
): RemoteAuth {
  let loading: Promise<RemoteAuth> | undefined;
  let hint: Promise<boolean> | undefined;
  let warned = false;
  const get = (): Promise<RemoteAuth> => {
    loading ??= load().catch((err: unknown) => {
      loading = undefined; // a locked keychain may be unlocked by the next attempt
      throw err;
    });
    return loading;
  };
  /** Ask the loaded auth, unless no session can exist; an unusable store means "send nothing". */
  const ask = async <T>(none: T, call: (auth: RemoteAuth) => Promise<T>): Promise<T> => {
    if (!loading && opts.mayHaveSession) {
      hint ??= opts.mayHaveSession().catch(() => true);
      if (!(await hint)) return none;
    }
    try {
      return await call(await get());
    } catch (err) {
      // Only an unusable store is tolerated here; anything else is the request's failure.
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (!warned) log.warn(`${err.message} (continuing without a token)`);
      warned = true;
      return none;
    }
  };
  return {
    authorizationHeader(signal) {
      return ask<string | undefined>(undefined, (auth) => auth.authorizationHeader(signal));
    },
    requestHeaders(target, signal) {
      return ask<Record<string, string>>({}, (auth) => auth.requestHeaders(target, signal));
    },
    async handleChallenge(challenge, attempt, signal) {
      return (await get()).handleChallenge(challenge, attempt, signal);
    },
  };
}

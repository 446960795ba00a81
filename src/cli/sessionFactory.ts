import { createAuthSession, type AuthSession } from '../auth/authSession.js';
import { boundedFetch } from '../auth/boundedFetch.js';
import type { AuthOptions } from '../auth/options.js';
import type { Deps } from '../deps.js';
import { createProxyFetch, proxyConfigured } from '../remote/proxyHttpClient.js';
import { KeychainIndex } from '../store/keychainIndex.js';
import { DEFAULT_KEYCHAIN_SERVICE } from '../store/keychainStore.js';
import { openStore } from '../store/openStore.js';
import { configDir, lockDir } from '../store/paths.js';
import type { StoreKind, TokenStore } from '../store/tokenStore.js';

// The session, store and index modules are imported statically: every bridge's first request
// asks for them (lazyRemoteAuth), so in the bundle they belong to the start chunk rather than a
// dozen chunks fetched one after another (signed-in start: ~2 ms less). What only a sign-in or a
// keychain needs stays behind its own import: openid-client (signInFlow, browser) and the native
// keychain module (openStore).

/** Open the chosen token store (the native keychain module is loaded only now, only for the keychain). */
export async function openTokenStore(kind: StoreKind, deps: Deps, opts: { probe?: boolean } = {}): Promise<TokenStore> {
  return openStore(kind, { env: deps.env, clock: deps.clock, probe: opts.probe });
}

/** Build the AuthSession for one profile: store, browser opener, fetch (through a proxy if configured). */
export async function openAuthSession(
  auth: AuthOptions,
  storeKind: StoreKind,
  deps: Deps,
  opts: { store?: TokenStore; signal?: AbortSignal; probe?: boolean } = {},
): Promise<{ session: AuthSession; store: TokenStore }> {
  const store = opts.store ?? (await openTokenStore(storeKind, deps, { probe: opts.probe }));
  // Every OAuth and metadata answer is read within 1 MiB (boundedFetch.ts), whatever the server sends.
  const fetchFn = boundedFetch(proxyConfigured(deps.env) ? await createProxyFetch() : deps.fetch);
  // The opener's module reaches openid-client (through oauthErrors): loaded only for a sign-in.
  const openBrowser = async (url: string): Promise<void> => {
    const { createBrowserOpener } = await import('../auth/browser.js');
    await createBrowserOpener({ env: deps.env, log: deps.log, noBrowser: auth.noBrowser, allowHttp: auth.allowHttp })(url);
  };
  const session = createAuthSession({
    options: auth,
    deps: { ...deps, fetch: fetchFn, openBrowser },
    store,
    lockDir: lockDir(deps.env, process.platform),
    signal: opts.signal,
  });
  return { session, store };
}

/** Whether the keychain may hold this key, judged from the index of key names alone (no keychain call). */
export async function keychainMayHold(key: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  // No index yet means nothing was ever stored through this config dir. Either way a wrong "no"
  // costs one round trip: the gateway's 401 loads the store and the stored session is adopted.
  const keys = await new KeychainIndex(configDir(env, process.platform), DEFAULT_KEYCHAIN_SERVICE).read();
  return keys !== undefined && keys.has(key);
}

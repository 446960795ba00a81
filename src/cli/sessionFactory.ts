import type { AuthSession } from '../auth/authSession.js';
import type { AuthOptions } from '../auth/options.js';
import type { Deps } from '../deps.js';
import { createProxyFetch, proxyConfigured } from '../remote/proxyHttpClient.js';
import type { StoreKind, TokenStore } from '../store/tokenStore.js';

/** Open the chosen token store (keychain module and file paths loaded only now). */
export async function openTokenStore(kind: StoreKind, deps: Deps, opts: { probe?: boolean } = {}): Promise<TokenStore> {
  const { openStore } = await import('../store/openStore.js');
  return openStore(kind, { env: deps.env, clock: deps.clock, probe: opts.probe });
}

/** Build the AuthSession for one profile: store, browser opener, fetch (through a proxy if configured). */
export async function openAuthSession(
  auth: AuthOptions,
  storeKind: StoreKind,
  deps: Deps,
  opts: { store?: TokenStore; signal?: AbortSignal; probe?: boolean } = {},
): Promise<{ session: AuthSession; store: TokenStore }> {
  const [{ createAuthSession }, { lockDir }] = await Promise.all([import('../auth/authSession.js'), import('../store/paths.js')]);
  const store = opts.store ?? (await openTokenStore(storeKind, deps, { probe: opts.probe }));
  // Every OAuth and metadata answer is read within 1 MiB (boundedFetch.ts), whatever the server sends.
  const { boundedFetch } = await import('../auth/boundedFetch.js');
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
  const [{ KeychainIndex }, { configDir }, { DEFAULT_KEYCHAIN_SERVICE }] = await Promise.all([
    import('../store/keychainIndex.js'),
    import('../store/paths.js'),
    import('../store/keychainStore.js'),
  ]);
  // No index yet means nothing was ever stored through this config dir. Either way a wrong "no"
  // costs one round trip: the gateway's 401 loads the store and the stored session is adopted.
  const keys = await new KeychainIndex(configDir(env, process.platform), DEFAULT_KEYCHAIN_SERVICE).read();
  return keys !== undefined && keys.has(key);
}

import type { Command } from 'commander';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl, lockName } from '../auth/profile.js';
import type { Deps } from '../deps.js';
import { withLock } from '../store/crossProcessLock.js';
import { lockDir } from '../store/paths.js';
import type { StoreKind } from '../store/tokenStore.js';
import { profileCommand, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession } from './sessionFactory.js';

/** How long logout/revoke wait for a refresh in progress in another process. */
export const PROFILE_LOCK_TIMEOUT_MS = 60_000;

export interface LogoutOptions {
  auth: AuthOptions;
  storeKind: StoreKind;
}

/**
 * Run `fn` under the profile's refresh lock, so a bridge refreshing at this very moment cannot
 * write the session back after it was removed (the refresher re-reads the store under this lock).
 */
export function withProfileLock<T>(key: string, deps: Deps, fn: () => Promise<T>): Promise<T> {
  return withLock(lockName('refresh', key), { dir: lockDir(deps.env, deps.platform), timeoutMs: PROFILE_LOCK_TIMEOUT_MS, clock: deps.clock }, fn);
}

/** Remove this profile's session from the store. Local only: the tokens stay valid at the identity provider. */
export async function runLogout(opts: LogoutOptions, deps: Deps): Promise<number> {
  const server = canonicalServerUrl(opts.auth.serverUrl);
  const { session, store } = await openAuthSession(opts.auth, opts.storeKind, deps);
  const removed = await withProfileLock(session.key, deps, () => store.delete(session.key));
  if (removed) {
    deps.log.say(`✓ Signed out of ${server} (removed from ${store.location}).`);
    deps.log.say('  The tokens stay valid at the identity provider until they expire. Next time, `mcp-keybridge revoke <url>` instead of logout also ends them there.');
  } else {
    deps.log.say(`Not signed in to ${server} (${store.location}); nothing to remove.`);
  }
  return 0;
}

/** `logout <url>`: flag wiring only. */
export function logoutCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = profileCommand('logout', "remove a gateway's stored session from this machine (local only; see `revoke`)");
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge logout https://gateway.example.com/mcp
  $ mcp-keybridge logout https://gateway.example.com/mcp --client-id my-app   # the profile signed in with --client-id

logout only forgets the tokens here; they stay valid at the identity provider until they expire.
To end the session at the identity provider as well, use \`mcp-keybridge revoke <url>\` instead:
it revokes the tokens there and then removes them here, like logout.`,
  );
  cmd.action(async (url: string, raw: RawProfileFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    const { auth, storeKind } = toAuthOptions(serverUrl, raw, deps.env, false);
    setExitCode(await runLogout({ auth, storeKind }, deps));
  });
  return cmd;
}

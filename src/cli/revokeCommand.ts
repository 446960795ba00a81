import type { Command } from 'commander';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl } from '../auth/profile.js';
import { revokeSessionTokens, type RevocationResult } from '../auth/revoke.js';
import { parseStoredSession } from '../auth/tokenSet.js';
import type { Deps } from '../deps.js';
import { KeybridgeError } from '../errors.js';
import { createProxyFetch, proxyConfigured } from '../remote/proxyHttpClient.js';
import type { StoreKind } from '../store/tokenStore.js';
import { withProfileLock } from './logoutCommand.js';
import { profileCommand, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession } from './sessionFactory.js';

export interface RevokeOptions {
  auth: AuthOptions;
  storeKind: StoreKind;
}

const MARK: Record<RevocationResult['outcome'], string> = { revoked: '✓', unsupported: '!', failed: '✗' };

/**
 * Revoke the profile's tokens at the identity provider (RFC 7009) at the endpoint recorded with
 * the session, then remove the session locally — also when a revocation failed.
 * Exit 1 when a revocation failed.
 */
export async function runRevoke(opts: RevokeOptions, deps: Deps): Promise<number> {
  const server = canonicalServerUrl(opts.auth.serverUrl);
  const { session, store } = await openAuthSession(opts.auth, opts.storeKind, deps);
  const fetchFn = proxyConfigured(deps.env) ? await createProxyFetch() : deps.fetch;
  const cancel = new AbortController();
  const unsubscribe = deps.onShutdownSignal(() => cancel.abort(new Error('interrupted')));
  try {
    return await withProfileLock(session.key, deps, async () => {
      let stored;
      try {
        stored = parseStoredSession(await store.get(session.key));
      } catch (err) {
        // A corrupt entry holds nothing we can revoke; still remove it.
        if (!(err instanceof KeybridgeError) || err.code !== 'store_corrupt') throw err;
        deps.log.warn(err.message);
      }
      if (!stored || stored.server !== server) {
        const removed = await store.delete(session.key);
        deps.log.say(removed ? `Removed an unreadable entry for ${server}; nothing to revoke.` : `Not signed in to ${server} (${store.location}); nothing to revoke.`);
        return 0;
      }
      let failed = false;
      if (!stored.revocationEndpoint) {
        deps.log.say(`! ${stored.issuer} recorded no revocation endpoint (RFC 7009) when you signed in: the tokens cannot be revoked there and stay valid until they expire.`);
      } else {
        const results = await revokeSessionTokens({
          session: stored,
          store,
          clientSecret: opts.auth.clientSecret,
          clientKey: opts.auth.clientKey,
          callbackHost: opts.auth.callbackHost,
          allowHttp: opts.auth.allowHttp,
          deps: { fetch: fetchFn, log: deps.log },
          signal: cancel.signal,
        });
        for (const r of results) {
          deps.log.say(`${MARK[r.outcome]} ${r.token === 'refresh_token' ? 'refresh token' : 'access token'}: ${r.detail}`);
          failed ||= r.outcome === 'failed';
        }
      }
      await store.delete(session.key);
      deps.log.say(`✓ removed the session for ${server} from ${store.location}`);
      if (failed) deps.log.error('a revocation failed: that token may still be valid until it expires');
      return failed ? 1 : 0;
    });
  } finally {
    unsubscribe();
  }
}

/** `revoke <url>`: flag wiring only. */
export function revokeCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = profileCommand('revoke', 'revoke the refresh and access token at the identity provider (RFC 7009), then remove the session locally');
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge revoke https://gateway.example.com/mcp
  $ mcp-keybridge revoke https://gateway.example.com/mcp --client-id my-app --client-secret-env MY_APP_SECRET

The revocation endpoint used is the one recorded when you signed in (never re-discovered).
The local session is removed even when a revocation fails; exit status 1 then says so.
A self-contained (JWT) access token may not be revocable; it then stays valid until it expires.`,
  );
  cmd.action(async (url: string, raw: RawProfileFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    const { auth, storeKind } = toAuthOptions(serverUrl, raw, deps.env, false);
    if (auth.clientSecret) deps.log.redactor.addSecret(auth.clientSecret);
    setExitCode(await runRevoke({ auth, storeKind }, deps));
  });
  return cmd;
}

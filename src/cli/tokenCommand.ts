import type { Command } from 'commander';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl } from '../auth/profile.js';
import { isExpired } from '../auth/tokenSet.js';
import type { Deps } from '../deps.js';
import { AuthRequiredError, RemoteUnavailableError } from '../errors.js';
import type { StoreKind } from '../store/tokenStore.js';
import { profileCommand, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession } from './sessionFactory.js';

export interface TokenOptions {
  auth: AuthOptions;
  storeKind: StoreKind;
  /** The login command to suggest, with the profile flags given (e.g. "mcp-keybridge login <url> --client-id x"). */
  loginHint: string;
}

/** Print a valid access token on stdout (refreshing it if needed); never signs in interactively. */
export async function runToken(opts: TokenOptions, deps: Deps): Promise<number> {
  const server = canonicalServerUrl(opts.auth.serverUrl);
  const auth: AuthOptions = { ...opts.auth, interactive: false };
  const { session } = await openAuthSession(auth, opts.storeKind, deps);
  const needLogin = (why: string): AuthRequiredError => new AuthRequiredError(`${why}: run \`${opts.loginHint}\``, 'not_signed_in');
  if (!(await session.currentSession())) throw needLogin(`not signed in to ${server}`);
  const header = await session.authorizationHeader();
  const current = await session.currentSession();
  if (current && header && isExpired(current, deps.clock.now()) && current.refreshToken) {
    // The refresh failed for a passing reason (the bridge would keep using this token): not a sign-in matter.
    throw new RemoteUnavailableError(
      `the access token for ${server} expired and could not be refreshed (is the identity provider reachable?); try again, or run \`${opts.loginHint}\``,
      { code: 'refresh_failed' },
    );
  }
  if (!header || !current || isExpired(current, deps.clock.now())) throw needLogin(`the sign-in for ${server} has expired or was revoked`);
  // Written straight to stdout, not through the logger (which would mask it).
  deps.stdout.write(`${header.replace(/^(Bearer|DPoP) /, '')}\n`);
  // A DPoP-bound token is refused without a proof signed by the key in the keychain (RFC 9449 §7).
  if (current.dpop) deps.log.warn('this token is DPoP-bound: a server accepts it only with a DPoP proof from this profile\'s key, not as a Bearer header');
  return 0;
}

/** `token <url>`: flag wiring only. */
export function tokenCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = profileCommand('token', 'print a valid access token for the gateway on stdout (refreshed if needed; never opens a browser)');
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge token https://gateway.example.com/mcp
  $ curl -H "Authorization: Bearer $(mcp-keybridge token https://gateway.example.com/mcp)" https://gateway.example.com/mcp

Only the token is written to stdout. Exit status 4 when a sign-in is needed (run \`mcp-keybridge login <url>\`).
Treat the output as a password: do not paste it into chats, issues or logs.`,
  );
  cmd.action(async (url: string, raw: RawProfileFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    const { auth, storeKind } = toAuthOptions(serverUrl, raw, deps.env, false);
    if (auth.clientSecret) deps.log.redactor.addSecret(auth.clientSecret);
    const loginHint = ['mcp-keybridge', 'login', url, ...profileFlagArgs(cmd)].map(shellWord).join(' ');
    setExitCode(await runToken({ auth, storeKind, loginHint }, deps));
  });
  return cmd;
}

/** The flags the user gave that select the profile, as argv (for "run this" hints). */
export function profileFlagArgs(cmd: Command): string[] {
  const keys = new Set([
    'clientId',
    'clientSecretEnv',
    'clientMetadataUrl',
    'clientKeyFile',
    'scope',
    'resource',
    'tokenStore',
    'allowHttp',
    'callbackHost',
    'grant',
    'tokenEndpoint',
    'useIdToken',
  ]);
  return givenFlagArgs(cmd, (attr) => keys.has(attr));
}

/**
 * Rebuild argv for the options the user typed (value source "cli"), in definition order;
 * repeatable options once per value, negated flags (--no-browser) as typed.
 */
export function givenFlagArgs(cmd: Command, include: (attributeName: string) => boolean): string[] {
  const out: string[] = [];
  for (const opt of cmd.options) {
    const attr = opt.attributeName();
    if (!include(attr) || cmd.getOptionValueSource(attr) !== 'cli' || !opt.long) continue;
    const value: unknown = cmd.getOptionValue(attr);
    if (opt.negate) {
      if (value === false) out.push(opt.long);
    } else if (typeof value === 'boolean') {
      if (value) out.push(opt.long);
    } else if (Array.isArray(value)) {
      for (const v of value) out.push(opt.long, String(v));
    } else if (value !== undefined) {
      out.push(opt.long, String(value));
    }
  }
  return out;
}

/** Quote a word for a POSIX shell hint when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

import { Command } from 'commander';
import { sanitizeServerText } from '../auth/oauthErrors.js';
import { canonicalServerUrl, isSessionKey, profileKeyFor } from '../auth/profile.js';
import { isExpired, parseStoredSession, type ClientSource, type StoredSession } from '../auth/tokenSet.js';
import type { Deps } from '../deps.js';
import { AuthRequiredError, KeybridgeError } from '../errors.js';
import type { StoreKind, TokenStore } from '../store/tokenStore.js';
import { configDir } from '../store/paths.js';
import { rememberedEras, type EraStatus } from '../remote/era/eraReport.js';
import { addProfileOptions, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openTokenStore } from './sessionFactory.js';
import { profileFlagArgs, shellWord } from './tokenCommand.js';

/** `status --json` document version; bump only on an incompatible change. */
export const STATUS_JSON_VERSION = 1;

/** What `status` reports about one stored session. Never a token value. */
export interface SessionStatus {
  key: string;
  server: string;
  resource: string | null;
  issuer: string;
  clientId: string;
  clientSource: ClientSource;
  /** How the tokens were obtained; client_credentials is machine access (no user). */
  grant: NonNullable<StoredSession['grant']>;
  /** Which token goes to the gateway. */
  bearer: 'access_token' | 'id_token';
  /** How the token is presented: as a bearer token, or DPoP-bound (RFC 9449) with a proof per request. */
  binding: 'bearer' | 'dpop';
  /** The DPoP key the tokens are bound to: its algorithm and RFC 7638 thumbprint (cnf.jkt), never the key. */
  dpop: { alg: string; jkt: string } | null;
  subject: string | null;
  email: string | null;
  name: string | null;
  scopes: string[];
  /** valid: the access token has not expired (or has no known expiry); refreshable: expired, a refresh token is held; expired: sign-in needed. */
  state: 'valid' | 'refreshable' | 'expired';
  accessTokenExpiresAt: string | null;
  /** Seconds from now; negative once expired; null when the server gave no expiry. */
  accessTokenExpiresIn: number | null;
  hasRefreshToken: boolean;
  obtainedAt: string;
  store: { kind: StoreKind; location: string };
}

/** The whole `status --json` document. */
export interface StatusDocument {
  version: typeof STATUS_JSON_VERSION;
  store: { kind: StoreKind; location: string };
  sessions: SessionStatus[];
  /** Entries that could not be read (corrupt, unreadable), without their contents. */
  errors: { key: string; code: string; message: string }[];
  /** The protocol era each listed server was last found to speak (only servers a bridge has detected). */
  protocols?: Record<string, EraStatus>;
}

export interface StatusOptions {
  /** Only the sessions of this server (canonical URL); all when undefined. */
  server?: string;
  /** Only this exact profile key (when profile flags narrowed it). */
  key?: string;
  storeKind: StoreKind;
  json: boolean;
  /** The login command to suggest for opts.server, with the profile flags given. */
  loginHint?: string;
}

const SOURCE_TEXT: Record<ClientSource, string> = {
  'pre-registered': 'pre-registered',
  'metadata-document': 'Client ID Metadata Document',
  dynamic: 'dynamic registration',
};

/** A duration as people say it: "45 s", "12 min", "3 h 5 min", "2 days". */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.round(h / 24)} days`;
}

/** "expires in 59 min (2030-01-01T00:00:00.000Z)" or "expired 3 min ago (…)". */
export function describeExpiry(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'no expiry given by the server';
  const iso = new Date(expiresAt).toISOString();
  return expiresAt > now ? `expires in ${formatDuration(expiresAt - now)} (${iso})` : `expired ${formatDuration(now - expiresAt)} ago (${iso})`;
}

/** The status record of one session. */
export function sessionStatus(key: string, s: StoredSession, store: TokenStore, now: number): SessionStatus {
  const expired = isExpired(s, now);
  return {
    key,
    server: s.server,
    resource: s.resource ?? null,
    issuer: s.issuer,
    clientId: s.clientId,
    clientSource: s.clientSource,
    grant: s.grant ?? 'authorization_code',
    bearer: s.bearer === 'id_token' ? 'id_token' : 'access_token',
    binding: s.dpop ? 'dpop' : 'bearer',
    dpop: s.dpop ? { alg: s.dpop.alg, jkt: s.dpop.jkt } : null,
    subject: s.subject ?? null,
    email: s.email ?? null,
    name: s.name ?? null,
    scopes: (s.scope ?? '').split(/\s+/).filter(Boolean),
    state: !expired ? 'valid' : s.refreshToken ? 'refreshable' : 'expired',
    accessTokenExpiresAt: s.expiresAt === undefined ? null : new Date(s.expiresAt).toISOString(),
    accessTokenExpiresIn: s.expiresAt === undefined ? null : Math.round((s.expiresAt - now) / 1000),
    hasRefreshToken: Boolean(s.refreshToken),
    obtainedAt: new Date(s.obtainedAt).toISOString(),
    store: { kind: store.kind, location: store.location },
  };
}

/** Who a session belongs to, for people: "alice (alice@example.test, Alice)". */
export function describeAccount(s: Pick<SessionStatus, 'subject' | 'email' | 'name'>): string {
  const extras = [s.email, s.name].filter((v): v is string => Boolean(v) && v !== s.subject);
  if (!s.subject && extras.length === 0) return '';
  return s.subject ? `${s.subject}${extras.length ? ` (${extras.join(', ')})` : ''}` : extras.join(', ');
}

/** The lines `status` and `login` print about a session (no token values). */
export function sessionLines(st: SessionStatus, now: number): string[] {
  const mark = st.state === 'expired' ? '✗' : '✓';
  const tokenName = st.bearer === 'id_token' ? 'ID token (sent as the bearer)' : 'Access token';
  const headline =
    st.state === 'expired'
      ? `Signed in, but the ${st.bearer === 'id_token' ? 'ID' : 'access'} token has expired and no refresh token is held`
      : st.grant === 'client_credentials'
        ? 'Machine access (client credentials; no user)'
        : describeAccount(st)
          ? `Signed in as ${describeAccount(st)}`
          : 'Signed in (account not disclosed: no ID token was issued; include openid in --scope to see it)';
  const expiresAt = st.accessTokenExpiresAt === null ? undefined : Date.parse(st.accessTokenExpiresAt);
  const tokenText = st.state === 'refreshable' ? `${describeExpiry(expiresAt, now)}; will be refreshed on next use` : describeExpiry(expiresAt, now);
  const lines = [
    st.server,
    `  ${mark} ${headline}`,
    `  - Issuer: ${st.issuer}`,
    `  - Client: ${st.clientId} (${SOURCE_TEXT[st.clientSource]})`,
    `  - Scopes: ${st.scopes.length ? st.scopes.join(' ') : '(none recorded)'}`,
    `  - ${tokenName}: ${tokenText}`,
    ...(st.dpop ? [`  - Bearer: dpop (bound to this profile's ${st.dpop.alg} key, jkt ${st.dpop.jkt})`] : []),
    `  - Refresh token: ${st.hasRefreshToken ? 'held' : 'none'}`,
    `  - Stored in: ${st.store.location}`,
  ];
  if (st.resource && st.resource !== st.server) lines.splice(2, 0, `  - Resource: ${st.resource}`);
  if (st.grant !== 'authorization_code') lines.splice(2, 0, `  - Grant: ${st.grant.replace(/_/g, ' ')}`);
  // Issuer, account claims, scopes and client id come from a server or a token: no terminal escapes.
  return lines.map((line) => sanitizeServerText(line, MAX_LINE_CHARS));
}

/** Longest line `status` and `login` print about a session (a server may name very long scopes). */
const MAX_LINE_CHARS = 2000;

/** Read every session of the store (or the selected ones), tolerating unreadable entries. */
export async function readStatus(store: TokenStore, opts: Pick<StatusOptions, 'server' | 'key'>, now: number): Promise<StatusDocument> {
  const doc: StatusDocument = { version: STATUS_JSON_VERSION, store: { kind: store.kind, location: store.location }, sessions: [], errors: [] };
  for (const key of await store.list()) {
    if (!isSessionKey(key)) continue;
    if (opts.key !== undefined && key !== opts.key) continue;
    let session: StoredSession | undefined;
    try {
      session = parseStoredSession(await store.get(key));
    } catch (err) {
      if (!(err instanceof KeybridgeError)) throw err;
      doc.errors.push({ key, code: err.code, message: err.message });
      continue;
    }
    if (!session) {
      doc.errors.push({ key, code: 'unrecognised_entry', message: `${key} does not hold a session this version understands; run \`mcp-keybridge cache clear\`` });
      continue;
    }
    if (opts.server !== undefined && session.server !== opts.server) continue;
    doc.sessions.push(sessionStatus(key, session, store, now));
  }
  return doc;
}

/** Print the status of stored sessions. Exit 4 when a server was named and no session for it is stored. */
export async function runStatus(opts: StatusOptions, deps: Deps): Promise<number> {
  const store = await openTokenStore(opts.storeKind, deps);
  const now = deps.clock.now();
  const doc = await readStatus(store, opts, now);
  doc.protocols = await rememberedEras(configDir(deps.env, deps.platform, deps.homeDir), doc.sessions.map((s) => s.server));
  if (opts.json) {
    deps.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    const blocks = doc.sessions.map((st) => sessionLines(st, now).join('\n'));
    for (const e of doc.errors) blocks.push(`${sanitizeServerText(e.key, MAX_LINE_CHARS)}\n  ✗ ${sanitizeServerText(e.message, MAX_LINE_CHARS)}`);
    if (blocks.length) deps.stdout.write(`${blocks.join('\n\n')}\n`);
  }
  if (doc.sessions.length === 0) {
    const where = opts.server ?? 'any gateway';
    const hint = opts.server ? `run \`${opts.loginHint ?? `mcp-keybridge login ${opts.server}`}\`` : 'run `mcp-keybridge login <url>`';
    if (opts.server) {
      if (!opts.json) throw new AuthRequiredError(`not signed in to ${where} (${store.location}); ${hint}`, 'not_signed_in');
      deps.log.error(`not signed in to ${where}; ${hint}`);
      return 4;
    }
    deps.log.info(`not signed in to ${where} (${store.location}); ${hint}`);
  }
  return doc.errors.length > 0 ? 1 : 0;
}

interface RawStatusFlags extends RawProfileFlags {
  json?: boolean;
}

/** `status [url]`: flag wiring only. */
export function statusCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('status')
    .description('show the stored sign-ins: server, account, issuer, client, scopes, token expiry, store (never a token)')
    .argument('[url]', 'only this gateway (all stored sessions when omitted)')
    .option('--json', 'print stable machine-readable JSON on stdout')
    .option('--allow-http', 'allow a plain-http gateway URL that is not on loopback');
  addProfileOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge status
  $ mcp-keybridge status https://gateway.example.com/mcp
  $ mcp-keybridge status --json | jq '.sessions[] | {server, state, accessTokenExpiresAt}'

Exit status: 0 ok; 1 an entry could not be read; 4 a URL was given and no session for it is stored.`,
  );
  cmd.action(async (url: string | undefined, raw: RawStatusFlags) => {
    const opts: StatusOptions = { storeKind: raw.tokenStore, json: raw.json === true };
    if (url !== undefined) {
      const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
      const { auth } = toAuthOptions(serverUrl, raw, deps.env, false);
      opts.server = canonicalServerUrl(serverUrl);
      opts.loginHint = ['mcp-keybridge', 'login', url, ...profileFlagArgs(cmd)].map(shellWord).join(' ');
      // Profile flags that change the key narrow the listing to exactly that profile.
      if (auth.clientId || auth.resource || auth.scope || auth.useIdToken || auth.grant === 'client-credentials') opts.key = profileKeyFor(auth);
    }
    setExitCode(await runStatus(opts, deps));
  });
  return cmd;
}

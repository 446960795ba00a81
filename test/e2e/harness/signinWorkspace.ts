import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startLab, type Lab, type LabOptions } from '../../../scripts/lab/lab.js';
import type { Idp } from '../../../scripts/lab/idp.js';
import { SCRIPTED_BROWSER_ENV } from '../../../scripts/lab/scriptedBrowserEnv.js';
import { DEFAULT_KEYCHAIN_SERVICE, type KeychainStore } from '../../../src/store/keychainStore.js';
import { openStore } from '../../../src/store/openStore.js';
import { spawnBridge, type BridgeProcess } from './bridgeProcess.js';

/**
 * Shared pieces of the sign-in end-to-end tests (signin.*.test.ts): a lab per test, a private
 * MCP_KEYBRIDGE_HOME, the scripted $BROWSER and its launch log, the real keychain (service
 * "mcp-keybridge", the CLI's fixed one) and bounded waits.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCRIPTED_BROWSER = path.join(REPO_ROOT, 'dist/scripts/lab/scriptedBrowser.js');

export type Cleanup = () => Promise<unknown>;

/** A lab with its identity provider (the 'oauth' lab always has one). */
export type OAuthLab = Lab & { idp: Idp };

/** Start an 'oauth' lab; its close, and the removal of its keychain entries, are pushed onto cleanups. */
export async function startOAuthLab(cleanups: Cleanup[], opts: LabOptions = {}): Promise<OAuthLab> {
  const lab = await startLab({ auth: 'oauth', ...opts });
  cleanups.push(() => lab.close());
  if (!lab.idp) throw new Error('the oauth lab started without an identity provider');
  const l = lab as OAuthLab;
  // The keychain service is fixed and shared by every test file: remove exactly this lab's entries
  // (its session under the gateway URL, its client registration under the issuer).
  cleanups.push(() => forgetLabEntries(l));
  return l;
}

/** The CLI's own keychain store (service "mcp-keybridge"), on the Secret Service of with-keyring.sh. */
export async function cliKeychain(): Promise<KeychainStore> {
  return (await openStore('keychain', { env: process.env, service: DEFAULT_KEYCHAIN_SERVICE, probe: false })) as KeychainStore;
}

/** Store keys (sessions and registrations) that belong to this lab. */
export async function labKeys(lab: OAuthLab): Promise<string[]> {
  const keys = await (await cliKeychain()).list();
  return keys.filter((k) => k.startsWith(`session:${lab.gateway.url}`) || k.startsWith(`client:${lab.idp.issuer}#`));
}

async function forgetLabEntries(lab: OAuthLab): Promise<void> {
  const store = await cliKeychain();
  for (const key of await labKeys(lab)) await store.delete(key);
}

export interface Workspace {
  /** MCP_KEYBRIDGE_HOME of the bridge. */
  home: string;
  /** Where the scripted browser records its launches (outside home, so scanning home is about the bridge only). */
  browserLog: string;
  env: NodeJS.ProcessEnv;
}

/** A private MCP_KEYBRIDGE_HOME plus the scripted $BROWSER; noop: the browser only records the URL. */
export async function workspace(cleanups: Cleanup[], opts: { noop?: boolean; extraEnv?: NodeJS.ProcessEnv } = {}): Promise<Workspace> {
  const root = await mkdtemp(path.join(tmpdir(), 'kb-signin-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const home = path.join(root, 'home');
  const browserLog = path.join(root, 'browser.log');
  if (!existsSync(SCRIPTED_BROWSER)) throw new Error(`${SCRIPTED_BROWSER} is missing; run \`npx tsc -p tsconfig.json\` first`);
  const env: NodeJS.ProcessEnv = {
    MCP_KEYBRIDGE_HOME: home,
    MCP_KEYBRIDGE_DEBUG: '',
    BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
    ...SCRIPTED_BROWSER_ENV,
    LAB_BROWSER_LOG: browserLog,
    LAB_BROWSER_NOOP: opts.noop ? '1' : '0',
    ...opts.extraEnv,
  };
  return { home, browserLog, env };
}

/** Every launch of the scripted browser so far. */
export function launches(ws: Workspace): { url: string; at: string }[] {
  if (!existsSync(ws.browserLog)) return [];
  return readFileSync(ws.browserLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { url: string; at: string });
}

/** Poll cond every 50 ms until it is truthy, at most timeoutMs; then throw naming what was awaited. */
export async function waitUntil<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / 50) + 1;
  for (let poll = 0; poll < maxPolls; poll++) {
    const value = await cond();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Wait (bounded) until neither the gateway nor the identity provider has seen a new request for
 * quietMs: the bridge reopens its event stream in the background, and with a short token lifetime
 * each reopening refreshes (and rotates) the tokens.
 */
export async function waitQuiet(lab: OAuthLab, quietMs = 1_000, timeoutMs = 15_000): Promise<void> {
  const activity = () => lab.gateway.record.requests.length + lab.idp.record.tokenRequests.length;
  let seen = activity();
  let since = Date.now();
  await waitUntil(`${quietMs} ms without requests to the lab`, () => {
    const now = activity();
    if (now !== seen) {
      seen = now;
      since = Date.now();
    }
    return Date.now() - since >= quietMs;
  }, timeoutMs);
}

/** Spawn the built CLI; it is killed (if still running) at cleanup. */
export function startBridge(cleanups: Cleanup[], args: string[], ws: Workspace): BridgeProcess {
  const b = spawnBridge(args, { env: ws.env });
  cleanups.push(() => b.kill());
  return b;
}

/** A real SDK client over the bridge's stdio. connect() is where the first sign-in happens. */
export function sdkClient(cleanups: Cleanup[]): Client {
  const client = new Client({ name: 'signin-e2e', version: '1.0.0' }, { capabilities: {} });
  cleanups.push(() => client.close());
  return client;
}

/** Call the lab's whoami tool and parse its {sub, scope, aud, token_kind}. */
export async function whoami(client: Client): Promise<Record<string, unknown>> {
  const res = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: { type: string; text: string }[]; isError?: boolean };
  if (res.isError) throw new Error(`whoami failed: ${JSON.stringify(res.content)}`);
  return JSON.parse(res.content[0]!.text) as Record<string, unknown>;
}

/** RFC 7636 S256: BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The claims of a JWT, unverified (only for reading exp in a test). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Every regular file under dir (recursive, bounded in depth), with its bytes. */
export async function filesUnder(dir: string, depth = 8): Promise<{ file: string; bytes: Buffer }[]> {
  if (depth < 0 || !existsSync(dir)) return [];
  const out: { file: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full, depth - 1)));
    else if (entry.isFile()) out.push({ file: full, bytes: await readFile(full) });
  }
  return out;
}

/** The distinct bearer tokens the gateway was sent, in order of first use. */
export function bearerTokensSeen(lab: OAuthLab): string[] {
  const tokens = lab.gateway.record.requests.map((r) => r.authorization?.replace(/^Bearer /, '')).filter((t): t is string => Boolean(t));
  return [...new Set(tokens)];
}

import { afterAll, afterEach, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startLab, type Lab, type LabOptions } from '../../../scripts/lab/lab.js';
import type { Idp } from '../../../scripts/lab/idp.js';
import { SCRIPTED_BROWSER_ENV } from '../../../scripts/lab/scriptedBrowserEnv.js';
import { parseStoredSession, type StoredSession } from '../../../src/auth/tokenSet.js';
import { DEFAULT_KEYCHAIN_SERVICE, type KeychainStore } from '../../../src/store/keychainStore.js';
import { openStore } from '../../../src/store/openStore.js';
import { spawnBridge, type BridgeProcess } from './bridgeProcess.js';

/**
 * Pieces shared by the many-processes, soak and fault tests: an 'oauth' lab whose keychain entries
 * are removed afterwards, one MCP_KEYBRIDGE_HOME (lock files) shared by every bridge of a test, the
 * scripted $BROWSER with its launch log, and bridges spawned from the built CLI with SDK clients.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCRIPTED_BROWSER = path.join(REPO_ROOT, 'dist/scripts/lab/scriptedBrowser.js');
export const WITH_KEYRING = path.join(REPO_ROOT, 'scripts/with-keyring.sh');

export type Cleanup = () => Promise<unknown>;
export type OAuthLab = Lab & { idp: Idp };

/** The Secret Service tools scripts/with-keyring.sh needs. */
export const hasKeyringTools = ['dbus-run-session', 'gnome-keyring-daemon'].every((tool) =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, tool))),
);

/**
 * A private, unlocked gnome-keyring on a private session bus (scripts/with-keyring.sh), for one
 * test file: this process and every bridge it spawns use it through DBUS_SESSION_BUS_ADDRESS.
 * The CLI's keychain service name is fixed ("mcp-keybridge"), so without this the entries of
 * these tests would share one service with other test files running in parallel (and a
 * `cache clear` there would remove a soak's session mid-run, or find our entries). Call in
 * beforeAll; the returned stop() (afterAll) restores the environment and ends the keyring.
 */
export async function usePrivateKeyring(): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn('bash', [WITH_KEYRING, 'bash', '-c', 'printf "%s %s\\n" "$DBUS_SESSION_BUS_ADDRESS" "${MCP_KEYBRIDGE_KEYRING_PID:-0}"; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the private keyring did not start within 20 s: ${stderr}`)), 20_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the private keyring exited (${code}): ${stderr}`));
    });
  });
  const [address, pid] = line.split(' ');
  if (!address) throw new Error(`the private keyring printed no bus address: ${line}`);
  const previous = process.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.DBUS_SESSION_BUS_ADDRESS = address;
  return {
    pid: Number(pid),
    stop: async () => {
      if (previous === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = previous;
      child.stdin.end();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) child.kill('SIGKILL');
    },
  };
}

/** Run cleanups last-in first-out, ignoring failures (afterEach). */
export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
}

/** The CLI's keychain store (service "mcp-keybridge") on the Secret Service of with-keyring.sh. */
export async function cliKeychain(): Promise<KeychainStore> {
  return (await openStore('keychain', { env: process.env, service: DEFAULT_KEYCHAIN_SERVICE, probe: false })) as KeychainStore;
}

/** Start an 'oauth' lab; its close and the removal of its keychain entries are pushed onto cleanups. */
export async function startOAuthLab(cleanups: Cleanup[], opts: LabOptions = {}): Promise<OAuthLab> {
  const lab = await startLab({ auth: 'oauth', ...opts });
  cleanups.push(() => lab.close());
  if (!lab.idp) throw new Error('the oauth lab started without an identity provider');
  const l = lab as OAuthLab;
  const issuer = l.idp.issuer;
  const gatewayUrl = l.gateway.url;
  cleanups.push(async () => {
    const store = await cliKeychain();
    for (const key of await store.list()) {
      if (key.startsWith(`session:${gatewayUrl}`) || key.startsWith(`client:${issuer}#`)) await store.delete(key);
    }
  });
  return l;
}

/** The session the bridges share for this lab, read from the real keychain. */
export async function storedSession(lab: OAuthLab): Promise<StoredSession | undefined> {
  return parseStoredSession(await (await cliKeychain()).get(`session:${lab.gateway.url}`));
}

export interface Workspace {
  home: string;
  browserLog: string;
  env: NodeJS.ProcessEnv;
  /** How many times a bridge launched the browser so far. */
  launches(): number;
}

/** A private MCP_KEYBRIDGE_HOME plus the scripted $BROWSER recording every launch. */
export async function workspace(cleanups: Cleanup[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Workspace> {
  if (!existsSync(SCRIPTED_BROWSER)) throw new Error(`${SCRIPTED_BROWSER} is missing; run \`npx tsc -p tsconfig.json\` first`);
  const root = await mkdtemp(path.join(tmpdir(), 'kb-fleet-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const home = path.join(root, 'home');
  const browserLog = path.join(root, 'browser.log');
  return {
    home,
    browserLog,
    env: {
      MCP_KEYBRIDGE_HOME: home,
      BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
      ...SCRIPTED_BROWSER_ENV,
      LAB_BROWSER_LOG: browserLog,
      LAB_BROWSER_NOOP: '0',
      ...extraEnv,
    },
    launches: () => (existsSync(browserLog) ? readFileSync(browserLog, 'utf8').split('\n').filter(Boolean).length : 0),
  };
}

/** Spawn the built CLI as a bridge to url (killed at cleanup if still running). */
export function bridge(cleanups: Cleanup[], url: string, ws: Workspace, opts: { args?: string[]; wrap?: string[]; env?: NodeJS.ProcessEnv } = {}): BridgeProcess {
  const b = spawnBridge([url, ...(opts.args ?? [])], { env: { ...ws.env, ...opts.env }, wrap: opts.wrap });
  cleanups.push(() => b.kill());
  return b;
}

/** A real SDK client over the bridge's stdio, connected (initialize + initialized). */
export async function connect(cleanups: Cleanup[], b: BridgeProcess, name = 'e2e'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  cleanups.push(() => client.close());
  await client.connect(b.transport(), { timeout: 60_000 });
  return client;
}

/** Count of refresh_token grants the identity provider has seen. */
export function refreshGrants(idp: Idp): number {
  return idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;
}

/** Poll `check` every 50 ms until it is true or `timeoutMs` passed (bounded); returns the last result. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait until the stored access token has expired by the local clock (bounded by its lifetime + 30 s). */
export async function waitPastExpiry(lab: OAuthLab, extraMs = 300): Promise<StoredSession> {
  const session = await storedSession(lab);
  if (!session?.expiresAt) throw new Error('no stored session with an expiry');
  const wait = session.expiresAt - Date.now() + extraMs;
  if (wait > 120_000) throw new Error(`token lives too long for this test (${wait} ms)`);
  if (wait > 0) await sleep(wait);
  return session;
}

/** The text of a tool result's first content item. */
export function firstText(result: unknown): string | undefined {
  return (result as { content?: { text?: string }[] }).content?.[0]?.text;
}

/**
 * Per-file fixtures: a cleanup list run after each test and, where the keyring tools exist, a
 * private Secret Service for the whole file (see usePrivateKeyring: tests that fill or empty the
 * "mcp-keybridge" service must not share it with files running in parallel).
 */
export function useFileFixtures(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(() => runCleanups(cleanups));
  let keyring: Awaited<ReturnType<typeof usePrivateKeyring>> | undefined;
  beforeAll(async () => {
    if (hasKeyringTools) keyring = await usePrivateKeyring();
  }, 30_000);
  afterAll(() => keyring?.stop());
  return cleanups;
}

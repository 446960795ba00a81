/**
 * The world of the command tests (commands, commands.config): a lab with its identity provider, a
 * private config folder, the scripted browser as $BROWSER recording each launch; the built CLI run
 * to completion; the file store read back. useCommandWorld() registers the file's cleanups.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startLab, type Lab } from '../../../scripts/lab/lab.js';
import { SCRIPTED_BROWSER_ENV } from '../../../scripts/lab/scriptedBrowserEnv.js';
import { BIN, spawnBridge } from './bridgeProcess.js';

type Cleanups = (() => Promise<unknown>)[];

/** For a test file's top level: its cleanups, run after each test, and the helpers that push on them. */
export function useCommandWorld(): { cleanups: Cleanups; world: () => Promise<World>; bridgeCallsTool: (w: World, args?: string[]) => Promise<void> } {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  });
  return { cleanups, world: () => world(cleanups), bridgeCallsTool: (w, args) => bridgeCallsTool(cleanups, w, args) };
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPTED_BROWSER = path.join(repoRoot, 'dist/scripts/lab/scriptedBrowser.js');
export const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
export const FILE = ['--token-store', 'file'];


type OAuthLab = Lab & Required<Pick<Lab, 'idp'>>;

export interface World {
  lab: OAuthLab;
  url: string;
  home: string;
  browserLog: string;
  env: NodeJS.ProcessEnv;
}

/** A lab, a private config dir, and the scripted browser as $BROWSER recording each launch. */
async function world(cleanups: Cleanups): Promise<World> {
  if (!existsSync(SCRIPTED_BROWSER)) throw new Error('dist/ is missing; run `npx tsc -p tsconfig.json` first');
  const lab = (await startLab({ auth: 'oauth' })) as OAuthLab;
  cleanups.push(() => lab.close());
  const home = await mkdtemp(path.join(tmpdir(), 'kb-cmd-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  const browserLog = path.join(home, 'browser.log');
  const env: NodeJS.ProcessEnv = {
    MCP_KEYBRIDGE_HOME: path.join(home, 'config'),
    BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
    ...SCRIPTED_BROWSER_ENV,
    LAB_BROWSER_LOG: browserLog,
    MCP_KEYBRIDGE_DEBUG: '',
  };
  return { lab, url: lab.gateway.url, home, browserLog, env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI to completion (bounded), stdin closed and not a terminal. */
export function cli(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mcp-keybridge ${args.join(' ')} did not finish; stderr:\n${stderr}`));
    }, opts.timeoutMs ?? 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function launches(w: World): Promise<number> {
  if (!existsSync(w.browserLog)) return 0;
  return (await readFile(w.browserLog, 'utf8')).split('\n').filter(Boolean).length;
}

/** The file store's entries (this is the test reading the plaintext store, not the CLI). */
export async function tokenFile(w: World): Promise<Record<string, Record<string, unknown>>> {
  const file = path.join(w.env.MCP_KEYBRIDGE_HOME!, 'tokens.json');
  if (!existsSync(file)) return {};
  return (JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, Record<string, unknown>> }).entries;
}

export async function storedSession(w: World): Promise<{ accessToken: string; refreshToken: string } & Record<string, unknown>> {
  const session = (await tokenFile(w))[`session:${w.url}`];
  if (!session) throw new Error('no stored session');
  return session as { accessToken: string; refreshToken: string };
}

export async function login(w: World, extra: string[] = []): Promise<CliResult> {
  const r = await cli(['login', w.url, ...FILE, ...extra], w.env);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** Start the bridge as an IDE would and call a tool through it. */
async function bridgeCallsTool(cleanups: Cleanups, w: World, args: string[] = FILE): Promise<void> {
  const bridge = spawnBridge([w.url, ...args], { env: w.env });
  cleanups.push(() => bridge.kill());
  const client = new Client({ name: 'commands-e2e', version: '1.0.0' });
  await client.connect(bridge.transport()).catch((err: Error) => {
    throw new Error(`${err.message}; bridge stderr:\n${bridge.stderr()}`);
  });
  cleanups.push(() => client.close());
  expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
  await client.close();
}

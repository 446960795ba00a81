/**
 * The user-facing commands (login, logout, revoke, status, token, cache clear, config, doctor),
 * each run as the built CLI against the lab. File token store in a temp MCP_KEYBRIDGE_HOME, except
 * the keychain case, which needs the private Secret Service of scripts/with-keyring.sh:
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/commands.test.ts
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startLab, type Lab } from '../../scripts/lab/lab.js';
import { SCRIPTED_BROWSER_ENV } from '../../scripts/lab/scriptedBrowserEnv.js';
import { BIN, spawnBridge } from './harness/bridgeProcess.js';
import { usePrivateKeyring } from './harness/labFleet.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTED_BROWSER = path.join(repoRoot, 'dist/scripts/lab/scriptedBrowser.js');
const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
const FILE = ['--token-store', 'file'];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

type OAuthLab = Lab & Required<Pick<Lab, 'idp'>>;

interface World {
  lab: OAuthLab;
  url: string;
  home: string;
  browserLog: string;
  env: NodeJS.ProcessEnv;
}

/** A lab, a private config dir, and the scripted browser as $BROWSER recording each launch. */
async function world(): Promise<World> {
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

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI to completion (bounded), stdin closed and not a terminal. */
function cli(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
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

async function launches(w: World): Promise<number> {
  if (!existsSync(w.browserLog)) return 0;
  return (await readFile(w.browserLog, 'utf8')).split('\n').filter(Boolean).length;
}

/** The file store's entries (this is the test reading the plaintext store, not the CLI). */
async function tokenFile(w: World): Promise<Record<string, Record<string, unknown>>> {
  const file = path.join(w.env.MCP_KEYBRIDGE_HOME!, 'tokens.json');
  if (!existsSync(file)) return {};
  return (JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, Record<string, unknown>> }).entries;
}

async function storedSession(w: World): Promise<{ accessToken: string; refreshToken: string } & Record<string, unknown>> {
  const session = (await tokenFile(w))[`session:${w.url}`];
  if (!session) throw new Error('no stored session');
  return session as { accessToken: string; refreshToken: string };
}

async function login(w: World, extra: string[] = []): Promise<CliResult> {
  const r = await cli(['login', w.url, ...FILE, ...extra], w.env);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** Start the bridge as an IDE would and call a tool through it. */
async function bridgeCallsTool(w: World, args: string[] = FILE): Promise<void> {
  const bridge = spawnBridge([w.url, ...args], { env: w.env });
  cleanups.push(async () => {
    if (bridge.child.exitCode === null) bridge.child.kill('SIGKILL');
  });
  const client = new Client({ name: 'commands-e2e', version: '1.0.0' });
  await client.connect(bridge.transport()).catch((err: Error) => {
    throw new Error(`${err.message}; bridge stderr:\n${bridge.stderr()}`);
  });
  cleanups.push(() => client.close());
  expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
  await client.close();
}

describe('login, status, token', () => {
  it('login signs in once; the bridge then starts without opening a browser and calls a tool', async () => {
    const w = await world();
    const r = await login(w);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Signed in`);
    expect(r.stderr).toContain(`Issuer: ${w.lab.idp.issuer}`);
    expect(r.stderr).toMatch(/Access token: expires in \d+ min \(\d{4}-\d\d-\d\dT/);
    expect(await launches(w)).toBe(1);

    await bridgeCallsTool(w);
    expect(await launches(w)).toBe(1);

    const again = await login(w);
    expect(again.stderr).toContain('Already signed in');
    expect(await launches(w)).toBe(1);
    const session = await storedSession(w);
    for (const out of [r, again]) {
      expect(out.stderr).not.toContain(session.accessToken);
      expect(out.stderr).not.toContain(session.refreshToken);
    }
  });

  it('login shows who signed in when an ID token is issued', async () => {
    const w = await world();
    const r = await login(w, ['--scope', 'openid email profile mcp:tools']);
    expect(r.stderr).toContain('Signed in as alice (alice@example.test, Alice)');
    expect(r.stderr).toContain('Scopes: openid email profile mcp:tools');
  });

  it('status --json describes the session and never contains a token value', async () => {
    const w = await world();
    await login(w);
    const session = await storedSession(w);
    const registration = Object.entries(await tokenFile(w)).find(([k]) => k.startsWith('client:'))?.[1];

    const json = await cli(['status', '--json', ...FILE], w.env);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as Record<string, any>;
    expect(doc).toMatchObject({ version: 1, store: { kind: 'file' }, errors: [] });
    expect(doc.sessions).toHaveLength(1);
    expect(doc.sessions[0]).toMatchObject({
      key: `session:${w.url}`,
      server: w.url,
      issuer: w.lab.idp.issuer,
      clientId: session.clientId,
      clientSource: 'dynamic',
      scopes: ['mcp:tools', 'offline_access'],
      state: 'valid',
      hasRefreshToken: true,
      store: { kind: 'file' },
    });
    expect(Date.parse(doc.sessions[0].accessTokenExpiresAt)).toBe(session.expiresAt);
    expect(doc.sessions[0].accessTokenExpiresIn).toBeGreaterThan(0);

    const text = await cli(['status', w.url, ...FILE], w.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Refresh token: held');
    for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
      for (const secret of [session.accessToken, session.refreshToken, session.idToken, registration?.clientSecret]) {
        if (typeof secret === 'string') expect(out).not.toContain(secret);
      }
    }

    const other = await cli(['status', 'http://127.0.0.1:1/mcp', '--json', ...FILE], w.env);
    expect(other.code).toBe(4);
    expect(JSON.parse(other.stdout).sessions).toEqual([]);
  });

  it('token prints only a token, and the gateway accepts it; without a session it exits 4 and says to log in', async () => {
    const w = await world();
    const none = await cli(['token', w.url, ...FILE], w.env);
    expect(none.code).toBe(4);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`mcp-keybridge login ${w.url} --token-store file`);
    expect(await launches(w)).toBe(0);

    await login(w);
    const r = await cli(['token', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9._~+/=-]+\n$/);
    const token = r.stdout.trim();

    const client = new Client({ name: 'token-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(w.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ type: 'text', text: '3' }] });
  });
});

describe('revoke, logout, cache clear', () => {
  it('revoke ends the refresh token at the identity provider, removes the session, and the next bridge signs in again', async () => {
    const w = await world();
    await login(w);
    const { refreshToken } = await storedSession(w);
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(true);

    const r = await cli(['revoke', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/✓ refresh token: revoked/);
    expect(r.stderr).toMatch(/access token: /);
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(false);
    expect(w.lab.idp.record.revocations.map((x) => x.token_type_hint)).toEqual(['refresh_token', 'access_token']);
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
    expect(r.stderr).not.toContain(refreshToken);

    await bridgeCallsTool(w);
    expect(await launches(w)).toBe(2);

    const again = await cli(['revoke', 'http://127.0.0.1:1/mcp', ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to revoke');
  });

  it('revoke still removes the session locally when the identity provider is down, and exits 1', async () => {
    const w = await world();
    await login(w);
    await w.lab.idp.close();
    const r = await cli(['revoke', w.url, ...FILE], w.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ refresh token: .*cannot reach/);
    expect(r.stderr).toContain('removed the session');
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
  });

  it('logout removes local state only: the refresh token stays active at the identity provider', async () => {
    const w = await world();
    await login(w);
    const { refreshToken } = await storedSession(w);
    const r = await cli(['logout', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('revoke');
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(true);
    expect(w.lab.idp.record.revocations).toEqual([]);
    const again = await cli(['logout', w.url, ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to remove');
  });

  it('cache clear refuses without --yes when not in a terminal, then removes everything and is idempotent', async () => {
    const w = await world();
    await login(w);
    const before = Object.keys(await tokenFile(w));
    expect(before.some((k) => k.startsWith('client:'))).toBe(true);

    const refused = await cli(['cache', 'clear', ...FILE], w.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(Object.keys(await tokenFile(w))).toEqual(before);

    // Files the tool never writes, under names close to its own: `cache clear` must leave them.
    const home = w.env.MCP_KEYBRIDGE_HOME!;
    const foreign = [path.join('logs', 'keep.txt'), path.join('locks', 'someone-else.lock'), path.join('locks', 'notes.txt')];
    for (const f of foreign) {
      await mkdir(path.dirname(path.join(home, f)), { recursive: true });
      await writeFile(path.join(home, f), 'not mcp-keybridge\n');
    }
    const r = await cli(['cache', 'clear', '--yes', ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    for (const key of before) expect(r.stdout).toContain(key);
    const session = await tokenFile(w);
    expect(session).toEqual({});
    const left = (await readdir(home, { recursive: true })).filter((f) => !['logs', 'locks'].includes(f));
    expect(left.sort()).toEqual([...foreign].sort());
    for (const f of foreign) await rm(path.join(home, f));

    const again = await cli(['cache', 'clear', '--yes', ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('Nothing to remove');
  });

  it('cache clear <url> removes only that profile', async () => {
    const w = await world();
    await login(w);
    await login(w, ['--scope', 'openid mcp:tools']);
    const r = await cli(['cache', 'clear', w.url, '--yes', ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    const keys = Object.keys(await tokenFile(w));
    expect(keys).not.toContain(`session:${w.url}`);
    // The other profile and the client registration it shares stay.
    expect(keys).toContain(`session:${w.url}#scope=mcp%3Atools+openid`);
    expect(keys.some((k) => k.startsWith('client:'))).toBe(true);
  });

  it.skipIf(!hasSessionBus)('cache clear with the real keychain removes every entry of ours and nothing else', async () => {
    // A Secret Service of its own: `cache clear` without a URL empties the whole "mcp-keybridge"
    // service, which other test files running in parallel use in the shared one.
    const privateKeyring = await usePrivateKeyring();
    cleanups.push(() => privateKeyring.stop());
    const keyring = await import('@napi-rs/keyring');
    const pin = { linux: { store: 'secret-service' as const } };
    const w = await world();
    const unrelated = new keyring.AsyncEntry('mcp-keybridge-unrelated', 'someone', pin);
    await unrelated.setPassword('not ours');
    cleanups.push(() => unrelated.deleteCredential());

    const r = await cli(['login', w.url, '--token-store', 'keychain'], w.env);
    expect(r.code, r.stderr).toBe(0);
    await bridgeCallsTool(w, ['--token-store', 'keychain']);
    expect(await launches(w)).toBe(1);
    expect((await keyring.findCredentialsAsync('mcp-keybridge')).length).toBeGreaterThan(0);

    const cleared = await cli(['cache', 'clear', '--yes', '--token-store', 'keychain'], w.env);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain(`keychain entry session:${w.url}`);
    expect(await keyring.findCredentialsAsync('mcp-keybridge')).toEqual([]);
    const search = await new Promise<string>((resolve) =>
      execFile('secret-tool', ['search', '--all', 'service', 'mcp-keybridge'], { timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`)),
    );
    expect(search).not.toMatch(/^attribute\.service = mcp-keybridge$/m);
    expect(await unrelated.getPassword()).toBe('not ours');

    const again = await cli(['cache', 'clear', '--yes', '--token-store', 'keychain'], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('Nothing to remove');
  });
});

describe('config', () => {
  it('config kiro --write keeps the other servers, adds ours, and the entry starts a working bridge', async () => {
    const w = await world();
    const userHome = path.join(w.home, 'user');
    const file = path.join(userHome, '.kiro', 'settings', 'mcp.json');
    await mkdir(path.dirname(file), { recursive: true });
    const original = {
      mcpServers: {
        fetch: { command: 'uvx', args: ['mcp-server-fetch'], env: { FASTMCP_LOG_LEVEL: 'ERROR' }, disabled: false, autoApprove: [] },
        other: { command: 'node', args: ['/opt/other.js'] },
      },
    };
    const originalText = JSON.stringify(original, null, 4);
    await writeFile(file, originalText);
    const env = { ...w.env, HOME: userHome, MCP_KEYBRIDGE_CONFIG_COMMAND: `${process.execPath} ${BIN}` };

    const printed = await cli(['config', 'kiro', w.url, ...FILE], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(originalText);
    const name = Object.keys((JSON.parse(printed.stdout) as { mcpServers: Record<string, unknown> }).mcpServers)[0]!;
    expect(name).toMatch(/^127-0-0-1-\d+$/);

    const written = await cli(['config', 'kiro', w.url, ...FILE, '--write'], env);
    expect(written.code, written.stderr).toBe(0);
    const merged = JSON.parse(await readFile(file, 'utf8')) as { mcpServers: Record<string, { command: string; args: string[] }> };
    expect(merged.mcpServers.fetch).toEqual(original.mcpServers.fetch);
    expect(merged.mcpServers.other).toEqual(original.mcpServers.other);
    const entry = merged.mcpServers[name]!;
    expect(entry).toEqual({ command: process.execPath, args: [BIN, w.url, '--token-store', 'file'] });
    const backups = (await readdir(path.dirname(file))).filter((n) => n.startsWith('mcp.json.bak-'));
    expect(backups).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(file), backups[0]!), 'utf8')).toBe(originalText);

    const same = await cli(['config', 'kiro', w.url, ...FILE, '--write'], env);
    expect(same.code).toBe(0);
    expect(same.stderr).toContain('already configured');
    const different = await cli(['config', 'kiro', w.url, '--token-store', 'keychain', '--write'], env);
    expect(different.code).toBe(1);
    expect(different.stderr).toContain('--force');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(merged);

    // The written entry, started the way Kiro starts it, is a working bridge.
    await login(w);
    const client = new Client({ name: 'kiro-like', version: '1.0.0' });
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...(process.env as Record<string, string>), ...(w.env as Record<string, string>) }, stderr: 'pipe' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
    expect(await launches(w)).toBe(1);
  });

  it('config vscode writes a "servers" entry of type stdio into the workspace, carrying the profile flags', async () => {
    const w = await world();
    const workspace = path.join(w.home, 'ws');
    await mkdir(workspace);
    const r = await cli(['config', 'vscode', w.url, '--client-id', 'my-app', '--scope', 'openid mcp:tools', '--no-browser', '--name', 'lab', '--write'], { ...w.env, MCP_KEYBRIDGE_CONFIG_COMMAND: '' }, { cwd: workspace });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(await readFile(path.join(workspace, '.vscode', 'mcp.json'), 'utf8'));
    expect(doc).toEqual({
      servers: { lab: { type: 'stdio', command: 'npx', args: ['-y', 'mcp-keybridge', w.url, '--client-id', 'my-app', '--scope', 'openid mcp:tools', '--no-browser'] } },
    });
  });
});

describe('doctor', () => {
  it('passes against the lab, and names the broken link when the identity provider is down', async () => {
    const w = await world();
    await login(w);
    const ok = await cli(['doctor', w.url, ...FILE], w.env);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    for (const link of ['TCP to the gateway', 'gateway sign-in challenge', 'protected resource metadata', 'authorization server metadata', 'PKCE', 'client', 'revocation endpoint', 'token store', 'stored session', 'gateway accepts the stored token', 'clock']) {
      expect(ok.stdout).toContain(`✓ ${link}:`);
    }
    const session = await storedSession(w);
    expect(ok.stdout).not.toContain(session.accessToken);
    expect(ok.stdout).not.toContain(session.refreshToken);

    await w.lab.idp.close();
    const broken = await cli(['doctor', w.url, ...FILE], w.env);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/✗ authorization server metadata: .*\n\s+→ .*identity provider .* is down or unreachable/);
    expect(broken.stdout).toContain('✓ protected resource metadata');
  });
});

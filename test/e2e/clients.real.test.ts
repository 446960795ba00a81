import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLab, LAB_STATIC_TOKEN, type Lab } from '../../scripts/lab/lab.js';
import { BIN } from './harness/bridgeProcess.js';
import { REPO_ROOT, startOAuthLab, useFileFixtures, workspace } from './harness/labFleet.js';

/**
 * Real MCP clients, installed from npm at pinned versions (test/clients/package.json), each given
 * its entry by `mcp-keybridge config <client> --write` in a throwaway home and asked, by its own
 * command, whether the server connects: Claude Code's, Gemini CLI's and opencode's `mcp list`
 * (each spawns the stdio server and reports it), Codex's app-server `mcpServerStatus/list`
 * (connects and lists the tools, no model needed) and the MCP Inspector's CLI. All run offline.
 */

const run = promisify(execFile);
const CLIENTS_DIR = path.join(REPO_ROOT, 'test', 'clients');
const CLIENT_BIN = path.join(CLIENTS_DIR, 'node_modules', '.bin');
/** The bridge the entries start: the built CLI of this checkout (the package test covers npx). */
const LAUNCHER = JSON.stringify([process.execPath, BIN]);

const cleanups = useFileFixtures();
let lab: Lab;

beforeAll(async () => {
  // Installed on first use (CI does it in .ci/run): the clients are large, so they stay out of the
  // project's own dependencies. npm ci uses test/clients/package-lock.json, so versions are exact.
  if (!existsSync(path.join(CLIENT_BIN, 'claude'))) {
    await run('npm', ['ci', '--prefix', CLIENTS_DIR, '--no-audit', '--no-fund', '--loglevel=error'], { maxBuffer: 16 << 20, timeout: 540_000 });
  }
  lab = await startLab({ auth: 'static' });
}, 600_000);

afterAll(async () => {
  await lab?.close();
});

interface Home {
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** A throwaway home (and XDG folders, CODEX_HOME) that the client and `config` both use. */
async function home(extra: NodeJS.ProcessEnv = {}): Promise<Home> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-client-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    USERPROFILE: dir,
    XDG_CONFIG_HOME: path.join(dir, '.config'),
    XDG_DATA_HOME: path.join(dir, '.local', 'share'),
    XDG_STATE_HOME: path.join(dir, '.local', 'state'),
    XDG_CACHE_HOME: path.join(dir, '.cache'),
    CODEX_HOME: path.join(dir, '.codex'),
    MCP_KEYBRIDGE_HOME: path.join(dir, 'keybridge'),
    MCP_KEYBRIDGE_CONFIG_COMMAND: LAUNCHER,
    // No update checks or telemetry: nothing here may leave the machine.
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    MCP_INSPECTOR_SECRET_STORE: 'memory',
    ...extra,
  };
  return { dir, env };
}

/** `mcp-keybridge config <client> <url> <flags> --write` in the home; returns the config's stderr. */
async function writeEntry(h: Home, client: string, url: string, flags: string[]): Promise<string> {
  const r = await run(process.execPath, [BIN, 'config', client, url, '--name', 'lab', ...flags, '--write'], { env: h.env, cwd: h.dir });
  return r.stderr;
}

/** Run a client command in the home; output (stdout + stderr, colours removed) whatever the exit code. */
async function client(h: Home, command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return (await clientRaw(h, command, args, timeoutMs)).replace(/\x1b\[[0-9;]*m/g, '');
}

async function clientRaw(h: Home, command: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const r = await run(path.join(CLIENT_BIN, command), args, { env: h.env, cwd: h.dir, timeout: timeoutMs, maxBuffer: 16 << 20 });
    return r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}\n(${e.message.split('\n')[0]})`;
  }
}

const STATIC = ['--bearer-env', 'GW_TOKEN', '--token-store', 'memory'];

/** Whether the gateway saw an authorized initialize since the counts `from` (requests, rpc). */
function gatewayInitialized(from: { requests: number; rpc: number }): boolean {
  const authorized = lab.gateway.record.requests.slice(from.requests).some((r) => r.authorization === `Bearer ${LAB_STATIC_TOKEN}`);
  return authorized && lab.gateway.record.rpc.slice(from.rpc).some((m) => m.method === 'initialize');
}

const counts = (): { requests: number; rpc: number } => ({ requests: lab.gateway.record.requests.length, rpc: lab.gateway.record.rpc.length });

describe('real MCP clients start the bridge from the entry `config` wrote (static token)', () => {
  it('Claude Code: `claude mcp list` reports it connected, with the default --transport auto', async () => {
    const h = await home({ GW_TOKEN: LAB_STATIC_TOKEN });
    await writeEntry(h, 'claude-code', lab.gateway.url, STATIC);
    const from = counts();
    const out = await client(h, 'claude', ['mcp', 'list']);
    expect(out).toMatch(/^lab: .*mcp-keybridge.* - ✔ Connected$/m);
    expect(out).not.toMatch(/Missing environment variables/);
    expect(gatewayInitialized(from)).toBe(true);
  });

  it('Gemini CLI: `gemini mcp list` reports it connected (in a trusted folder)', async () => {
    const h = await home({ GW_TOKEN: LAB_STATIC_TOKEN });
    await writeEntry(h, 'gemini', lab.gateway.url, STATIC);
    await writeFile(path.join(h.dir, '.gemini', 'trustedFolders.json'), JSON.stringify({ [h.dir]: 'TRUST_FOLDER' }));
    const out = await client(h, 'gemini', ['mcp', 'list']);
    expect(out).toMatch(/✓ lab: .*mcp-keybridge.* - Connected/);
  });

  it('opencode: `opencode mcp list` reports it connected', async () => {
    const h = await home({ GW_TOKEN: LAB_STATIC_TOKEN });
    await writeEntry(h, 'opencode', lab.gateway.url, STATIC);
    const out = await client(h, 'opencode', ['mcp', 'list']);
    expect(out).toMatch(/✓ lab\W+connected/);
  });

  it('Codex: the app-server connects it (env_vars forwards the token) and lists its tools', async () => {
    const h = await home({ GW_TOKEN: LAB_STATIC_TOKEN });
    await writeEntry(h, 'codex', lab.gateway.url, STATIC);
    const status = await codexServerStatus(h);
    const lab_ = status.find((s) => s.name === 'lab');
    expect(lab_?.serverInfo?.name).toBe('keybridge-lab-gateway');
    expect(Object.keys(lab_?.tools ?? {})).toContain('echo');
  });

  it('MCP Inspector CLI: tools/list and tools/call through the Claude Desktop entry', async () => {
    const h = await home();
    await writeEntry(h, 'claude', lab.gateway.url, STATIC);
    const config = path.join(h.dir, '.config', 'Claude', 'claude_desktop_config.json');
    const list = await client(h, 'mcp-inspector', ['--cli', '--config', config, '--server', 'lab', '-e', `GW_TOKEN=${LAB_STATIC_TOKEN}`, '--method', 'tools/list']);
    expect(list).toMatch(/"name": "echo"/);
    const call = await client(h, 'mcp-inspector', [
      '--cli', '--config', config, '--server', 'lab', '-e', `GW_TOKEN=${LAB_STATIC_TOKEN}`,
      '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=through the inspector',
    ]);
    expect(call).toContain('through the inspector');
  });
});

describe('real MCP clients with an OAuth gateway: the bridge signs in through the scripted browser', () => {
  it.each([['claude-code', 'claude', /^lab: .* - ✔ Connected$/m], ['opencode', 'opencode', /✓ lab\W+connected/]] as const)(
    '%s: connected after a sign-in, and again from the stored session with no browser',
    async (id, command, connected) => {
      const lab2 = await startOAuthLab(cleanups);
      const ws = await workspace(cleanups);
      const h = await home({ ...ws.env, MCP_KEYBRIDGE_HOME: ws.home });
      await mkdir(ws.home, { recursive: true });
      await writeEntry(h, id, lab2.gateway.url, []);
      const first = await client(h, command, ['mcp', 'list'], 90_000);
      expect(first).toMatch(connected);
      expect(ws.launches()).toBe(1);
      const second = await client(h, command, ['mcp', 'list'], 90_000);
      expect(second).toMatch(connected);
      expect(ws.launches()).toBe(1);
    },
    120_000,
  );
});

interface CodexServerStatus {
  name: string;
  serverInfo?: { name: string };
  tools?: Record<string, unknown>;
}

/** Codex app-server over stdio: initialize, initialized, mcpServerStatus/list (bounded by a deadline). */
async function codexServerStatus(h: Home): Promise<CodexServerStatus[]> {
  const child = spawn(path.join(CLIENT_BIN, 'codex'), ['app-server'], { env: h.env, cwd: h.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  let buffered = '';
  child.stdout.on('data', (b: Buffer) => {
    buffered += b.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof m.id === 'number') pending.get(m.id)?.(m);
    }
  });
  const request = (id: number, method: string, params: unknown): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`codex app-server: no answer to ${method} within 60 s; stderr:\n${stderr}`)), 60_000);
      pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  await request(1, 'initialize', { clientInfo: { name: 'mcp-keybridge-e2e', version: '1.0.0' } });
  child.stdin.write(`${JSON.stringify({ method: 'initialized' })}\n`);
  const listed = await request(2, 'mcpServerStatus/list', {});
  child.kill();
  if (listed.error) throw new Error(`mcpServerStatus/list failed: ${JSON.stringify(listed.error)}`);
  return ((listed.result as { data?: CodexServerStatus[] }).data ?? []) as CodexServerStatus[];
}

/**
 * config and doctor, each run as the built CLI against the lab (file token store in a temp
 * MCP_KEYBRIDGE_HOME). The commands that sign in and out: commands.test.ts.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/commands.config.test.ts
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN } from './harness/bridgeProcess.js';
import { cli, FILE, launches, login, storedSession, useCommandWorld } from './harness/commandWorld.js';

const { cleanups, world } = useCommandWorld();

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

import { describe, expect, it } from 'vitest';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { backupPath, defaultServerName, environmentVariablesRead, launcher } from '../../src/cli/ideConfig.js';
import type { ClientLocation, ConfigScope, EntryInput } from '../../src/cli/clients/clientSpec.js';
import { bridgeEntries, entrySnippet, mergeClientEntry } from '../../src/cli/clients/clientEntry.js';
import { ConfigFileError, openDocument } from '../../src/cli/clients/configDocument.js';
import { CLIENTS, clientSpec } from '../../src/cli/clients/registry.js';

const linux: ClientLocation = { homeDir: '/home/ada', cwd: '/work/proj', platform: 'linux', env: {} };
const mac: ClientLocation = { homeDir: '/Users/ada', cwd: '/work/proj', platform: 'darwin', env: {} };
const win: ClientLocation = { homeDir: 'C:\\Users\\ada', cwd: 'C:\\proj', platform: 'win32', env: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' } };
const input: EntryInput = { name: 'gw', command: 'npx', args: ['-y', 'mcp-keybridge', 'https://gw.example.com/mcp', '--bearer-env', 'GW_TOKEN'], envVars: ['GW_TOKEN'] };

const file = (id: string, loc: ClientLocation, scope?: ConfigScope): string => {
  const spec = clientSpec(id);
  return spec.file(loc, scope ?? spec.scopes[0]!, 'gw');
};

/** Merge into text and return the new text (throws on a conflict). */
function merge(id: string, text: string | undefined, opts: { scope?: ConfigScope; force?: boolean; entry?: EntryInput } = {}): { text: string; action: string } {
  const spec = clientSpec(id);
  const doc = openDocument(spec.format, text);
  const outcome = mergeClientEntry(doc, { spec, input: opts.entry ?? input, loc: linux, scope: opts.scope ?? spec.scopes[0]!, force: opts.force ?? false, newFile: text === undefined });
  return { text: doc.text(), action: outcome.action };
}

describe('where each client keeps its MCP servers', () => {
  it('user and workspace files per client on Linux', () => {
    expect(file('claude-code', linux)).toBe('/home/ada/.claude.json');
    expect(file('claude-code', linux, 'workspace')).toBe('/work/proj/.mcp.json');
    expect(file('codex', linux)).toBe('/home/ada/.codex/config.toml');
    expect(file('codex', { ...linux, env: { CODEX_HOME: '/opt/codex' } })).toBe('/opt/codex/config.toml');
    expect(file('gemini', linux, 'workspace')).toBe('/work/proj/.gemini/settings.json');
    expect(file('opencode', linux)).toBe('/home/ada/.config/opencode/opencode.json');
    expect(file('zed', linux)).toBe('/home/ada/.config/zed/settings.json');
    expect(file('cline', linux)).toBe('/home/ada/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json');
    expect(file('roo', linux, 'workspace')).toBe('/work/proj/.roo/mcp.json');
    expect(file('amazonq', linux)).toBe('/home/ada/.aws/amazonq/mcp.json');
    expect(file('jetbrains', linux)).toBe('/home/ada/.junie/mcp/mcp.json');
    expect(file('lmstudio', linux)).toBe('/home/ada/.lmstudio/mcp.json');
    expect(file('goose', linux)).toBe('/home/ada/.config/goose/config.yaml');
    expect(file('continue', linux)).toBe('/home/ada/.continue/config.yaml');
    expect(file('continue', linux, 'workspace')).toBe('/work/proj/.continue/mcpServers/gw.yaml');
    expect(file('vscode', linux, 'user')).toBe('/home/ada/.config/Code/User/mcp.json');
  });
  it('per-OS folders on macOS and Windows, with Windows separators', () => {
    expect(file('claude', mac)).toBe('/Users/ada/Library/Application Support/Claude/claude_desktop_config.json');
    expect(file('vscode', mac, 'user')).toBe('/Users/ada/Library/Application Support/Code/User/mcp.json');
    expect(file('claude', win)).toBe('C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json');
    expect(file('zed', win)).toBe('C:\\Users\\ada\\AppData\\Roaming\\Zed\\settings.json');
    expect(file('goose', win)).toBe('C:\\Users\\ada\\AppData\\Roaming\\Block\\goose\\config\\config.yaml');
    expect(file('kiro', win)).toBe('C:\\Users\\ada\\.kiro\\settings\\mcp.json');
  });
  it('every client cites its documentation and has a default scope', () => {
    for (const c of CLIENTS) {
      expect(c.docs).toMatch(/^https:\/\//);
      expect(c.scopes.length).toBeGreaterThan(0);
    }
  });
});

describe('entries, the client\'s way', () => {
  it('names the variables the bridge reads, from every flag that names one', () => {
    expect(
      environmentVariablesRead(['--bearer-env', 'A', '--header-env', 'X-Key=B', '--client-secret-env', 'C', '--header', 'X-T: ${D} ${E}', '--header', 'X-L: plain']),
    ).toEqual(['A', 'B', 'C', 'D', 'E']);
  });
  it('passes a variable with each client\'s own syntax', () => {
    const env = (id: string) => (clientSpec(id).entry(input) as { env?: unknown; environment?: unknown }).env ?? (clientSpec(id).entry(input) as { environment?: unknown }).environment;
    expect(env('claude-code')).toEqual({ GW_TOKEN: '${GW_TOKEN}' });
    expect(env('cursor')).toEqual({ GW_TOKEN: '${env:GW_TOKEN}' });
    expect(env('opencode')).toEqual({ GW_TOKEN: '{env:GW_TOKEN}' });
    expect(env('continue')).toEqual({ GW_TOKEN: '${{ secrets.GW_TOKEN }}' });
    expect(env('vscode')).toEqual({ GW_TOKEN: '${input:mcp-keybridge-gw-token}' });
    expect(clientSpec('codex').entry(input)).toMatchObject({ env_vars: ['GW_TOKEN'] });
    expect(clientSpec('goose').entry(input)).toMatchObject({ cmd: 'npx', env_keys: ['GW_TOKEN'], type: 'stdio' });
    expect(clientSpec('opencode').entry(input)).toMatchObject({ type: 'local', command: ['npx', ...input.args] });
  });
  it('prints the client\'s own mcp add command where there is one', () => {
    expect(clientSpec('claude-code').addCommand!(input, 'user')).toEqual(['claude', 'mcp', 'add', '--scope', 'user', 'gw', '-e', 'GW_TOKEN=${GW_TOKEN}', '--', 'npx', ...input.args]);
    expect(clientSpec('claude-code').addCommand!(input, 'workspace')[4]).toBe('project');
    expect(clientSpec('codex').addCommand!(input, 'user')).toEqual(['codex', 'mcp', 'add', 'gw', '--', 'npx', ...input.args]);
    expect(clientSpec('zed').addCommand).toBeUndefined();
  });
  it('takes the launcher from MCP_KEYBRIDGE_CONFIG_COMMAND, names servers after the host, names backups by time', () => {
    expect(launcher({})).toEqual(['npx', '-y', 'mcp-keybridge']);
    expect(launcher({ MCP_KEYBRIDGE_CONFIG_COMMAND: '["node","/a b/bin.js"]' })).toEqual(['node', '/a b/bin.js']);
    expect(defaultServerName(new URL('http://127.0.0.1:8080/mcp'))).toBe('127-0-0-1-8080');
    expect(backupPath('/x/mcp.json', Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('/x/mcp.json.bak-2026-01-02T03-04-05-000Z');
  });
});

describe('merging into a file, keeping the rest', () => {
  it('JSON with comments: only our entry changes, comments stay', () => {
    const before = '{\n  // my settings\n  "theme": "dark", /* keep */\n  "context_servers": {\n    "other": { "command": "x" }\n  }\n}\n';
    const { text, action } = merge('zed', before);
    expect(action).toBe('added');
    expect(text).toContain('// my settings');
    expect(text).toContain('/* keep */');
    const parsed = parseJsonc(text) as { theme: string; context_servers: Record<string, unknown> };
    expect(parsed.theme).toBe('dark');
    expect(Object.keys(parsed.context_servers)).toEqual(['other', 'gw']);
  });
  it('unchanged for the same entry, a conflict for a different one unless forced', () => {
    const first = merge('kiro', undefined).text;
    expect(merge('kiro', first).action).toBe('unchanged');
    const other = { ...input, args: [...input.args, '--read-only'] };
    expect(merge('kiro', first, { entry: other }).action).toBe('conflict');
    const forced = merge('kiro', first, { entry: other, force: true });
    expect(forced.action).toBe('replaced');
    expect((JSON.parse(forced.text) as { mcpServers: { gw: { args: string[] } } }).mcpServers.gw.args.at(-1)).toBe('--read-only');
  });
  it('Claude Code local scope goes under projects[cwd]', () => {
    const before = JSON.stringify({ numStartups: 3, projects: { '/work/proj': { allowedTools: [] } } });
    const parsed = JSON.parse(merge('claude-code', before, { scope: 'local' }).text) as { numStartups: number; projects: Record<string, { mcpServers: Record<string, unknown>; allowedTools: unknown[] }> };
    expect(parsed.numStartups).toBe(3);
    expect(parsed.projects['/work/proj']!.allowedTools).toEqual([]);
    expect(parsed.projects['/work/proj']!.mcpServers.gw).toMatchObject({ type: 'stdio', command: 'npx' });
  });
  it('VS Code gets one password input per variable, added once', () => {
    const once = merge('vscode', '{"inputs":[{"id":"theirs","type":"promptString"}]}').text;
    const twice = merge('vscode', once);
    expect(twice.action).toBe('unchanged');
    const parsed = JSON.parse(once) as { inputs: { id: string; password?: boolean }[] };
    expect(parsed.inputs.map((i) => i.id)).toEqual(['theirs', 'mcp-keybridge-gw-token']);
    expect(parsed.inputs[1]!.password).toBe(true);
  });
  it('TOML: a new table is appended (comments kept); replacing one rewrites and says comments were dropped', () => {
    const before = '# my codex\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "x"\n';
    const spec = clientSpec('codex');
    const doc = openDocument('toml', before);
    mergeClientEntry(doc, { spec, input, loc: linux, scope: 'user', force: false, newFile: false });
    const appended = doc.text();
    expect(appended.startsWith(before.trimEnd())).toBe(true);
    expect(doc.commentsDropped).toBe(false);
    const parsed = parseToml(appended) as { model: string; mcp_servers: Record<string, { command: string; env_vars?: string[] }> };
    expect(parsed.model).toBe('o3');
    expect(parsed.mcp_servers.gw).toMatchObject({ command: 'npx', env_vars: ['GW_TOKEN'] });
    const doc2 = openDocument('toml', appended);
    mergeClientEntry(doc2, { spec, input: { ...input, args: ['other'] }, loc: linux, scope: 'user', force: true, newFile: false });
    const rewritten = doc2.text();
    expect(doc2.commentsDropped).toBe(true);
    expect((parseToml(rewritten) as { mcp_servers: Record<string, { args: string[] }> }).mcp_servers.gw!.args).toEqual(['other']);
  });
  it('YAML: Goose extensions map and Continue\'s list, comments kept', () => {
    const goose = merge('goose', '# goose\nGOOSE_PROVIDER: openai # provider\nextensions:\n  developer:\n    enabled: true\n').text;
    expect(goose).toContain('# provider');
    const g = parseYaml(goose) as { GOOSE_PROVIDER: string; extensions: Record<string, unknown> };
    expect(Object.keys(g.extensions)).toEqual(['developer', 'gw']);
    const cont = merge('continue', 'name: Local\nmcpServers:\n  - name: other\n    command: x\n').text;
    const c = parseYaml(cont) as { mcpServers: { name: string }[] };
    expect(c.mcpServers.map((s) => s.name)).toEqual(['other', 'gw']);
    expect(merge('continue', cont).action).toBe('unchanged');
    const block = parseYaml(merge('continue', undefined, { scope: 'workspace' }).text) as Record<string, unknown>;
    expect(block).toMatchObject({ name: 'gw', version: '0.0.1', schema: 'v1', mcpServers: [{ name: 'gw', command: 'npx' }] });
  });
  it('refuses files it cannot parse or merge into', () => {
    expect(() => openDocument('json', '{ "a": ')).toThrow(ConfigFileError);
    expect(() => openDocument('json', '[]')).toThrow(/JSON object/);
    expect(() => openDocument('toml', 'a = = 1')).toThrow(/TOML/);
    expect(() => openDocument('yaml', 'a: [1,')).toThrow(/YAML/);
    expect(() => merge('kiro', '{"mcpServers": 3}')).toThrow(/not a JSON object/);
  });
  it('prints a snippet of our entry only, and finds bridge entries for --list', () => {
    const snippet = JSON.parse(entrySnippet({ spec: clientSpec('kiro'), input, loc: linux, scope: 'user' })) as Record<string, unknown>;
    expect(snippet).toEqual({ mcpServers: { gw: clientSpec('kiro').entry(input) } });
    const text = merge('kiro', '{"mcpServers":{"other":{"command":"uvx","args":["x"]}}}').text;
    expect(bridgeEntries(openDocument('json', text), clientSpec('kiro'), linux, 'user')).toEqual([{ name: 'gw', url: 'https://gw.example.com/mcp' }]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  backupPath,
  buildEntry,
  ConfigFileError,
  defaultServerName,
  entrySnippet,
  ideConfigPath,
  launcher,
  mergeEntry,
  serversKey,
  supportedScopes,
  type ConfigLocation,
} from '../../src/cli/ideConfig.js';

const posix = (over: Partial<ConfigLocation>): ConfigLocation => ({
  ide: 'kiro',
  scope: 'user',
  homeDir: '/home/ada',
  cwd: '/work/proj',
  platform: 'linux',
  env: {},
  ...over,
});

describe('ideConfigPath', () => {
  it('knows each IDE’s user and workspace files', () => {
    expect(ideConfigPath(posix({ ide: 'kiro' }))).toBe('/home/ada/.kiro/settings/mcp.json');
    expect(ideConfigPath(posix({ ide: 'kiro', scope: 'workspace' }))).toBe('/work/proj/.kiro/settings/mcp.json');
    expect(ideConfigPath(posix({ ide: 'cursor' }))).toBe('/home/ada/.cursor/mcp.json');
    expect(ideConfigPath(posix({ ide: 'cursor', scope: 'workspace' }))).toBe('/work/proj/.cursor/mcp.json');
    expect(ideConfigPath(posix({ ide: 'vscode', scope: 'workspace' }))).toBe('/work/proj/.vscode/mcp.json');
    expect(ideConfigPath(posix({ ide: 'windsurf' }))).toBe('/home/ada/.codeium/windsurf/mcp_config.json');
  });

  it('puts the Claude Desktop config where each OS keeps it', () => {
    expect(ideConfigPath(posix({ ide: 'claude' }))).toBe('/home/ada/.config/Claude/claude_desktop_config.json');
    expect(ideConfigPath(posix({ ide: 'claude', platform: 'darwin', homeDir: '/Users/ada' }))).toBe(
      '/Users/ada/Library/Application Support/Claude/claude_desktop_config.json',
    );
    expect(ideConfigPath(posix({ ide: 'claude', platform: 'win32', homeDir: 'C:\\Users\\ada', env: { APPDATA: 'D:\\Roaming' } }))).toBe(
      'D:\\Roaming\\Claude\\claude_desktop_config.json',
    );
    expect(ideConfigPath(posix({ ide: 'claude', platform: 'win32', homeDir: 'C:\\Users\\ada' }))).toBe(
      'C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json',
    );
  });

  it('uses Windows separators for Windows paths', () => {
    expect(ideConfigPath(posix({ ide: 'kiro', platform: 'win32', homeDir: 'C:\\Users\\ada' }))).toBe('C:\\Users\\ada\\.kiro\\settings\\mcp.json');
  });

  it('refuses a scope the IDE has no file for, and defaults sensibly', () => {
    expect(() => ideConfigPath(posix({ ide: 'claude', scope: 'workspace' }))).toThrow(/no workspace-level/);
    expect(() => ideConfigPath(posix({ ide: 'vscode', scope: 'user' }))).toThrow(/no user-level/);
    expect(supportedScopes('kiro')[0]).toBe('user');
    expect(supportedScopes('vscode')[0]).toBe('workspace');
  });
});

describe('entries', () => {
  it('builds npx entries, with type stdio and the "servers" key for VS Code', () => {
    const args = ['https://gw.example.com/mcp', '--client-id', 'abc'];
    expect(buildEntry('kiro', launcher({}), args)).toEqual({ command: 'npx', args: ['-y', 'mcp-keybridge', ...args] });
    expect(buildEntry('vscode', launcher({}), args)).toEqual({ type: 'stdio', command: 'npx', args: ['-y', 'mcp-keybridge', ...args] });
    expect(serversKey('vscode')).toBe('servers');
    expect(serversKey('claude')).toBe('mcpServers');
  });

  it('takes the launcher from MCP_KEYBRIDGE_CONFIG_COMMAND, as words or a JSON array', () => {
    expect(launcher({ MCP_KEYBRIDGE_CONFIG_COMMAND: 'node /opt/kb/bin/mcp-keybridge.js' })).toEqual(['node', '/opt/kb/bin/mcp-keybridge.js']);
    expect(launcher({ MCP_KEYBRIDGE_CONFIG_COMMAND: '["node", "/opt/my kb/bin.js"]' })).toEqual(['node', '/opt/my kb/bin.js']);
    expect(() => launcher({ MCP_KEYBRIDGE_CONFIG_COMMAND: '[1]' })).toThrow(/JSON array/);
  });

  it('derives the default name from the gateway host', () => {
    expect(defaultServerName(new URL('https://mcp.Example.com/mcp'))).toBe('mcp-example-com');
    expect(defaultServerName(new URL('http://127.0.0.1:8080/mcp'))).toBe('127-0-0-1-8080');
    expect(defaultServerName(new URL('http://[::1]:9000/'))).toBe('1-9000');
  });

  it('prints a snippet holding only our entry, and names backups by time', () => {
    const entry = buildEntry('cursor', ['npx', '-y', 'mcp-keybridge'], ['https://gw/mcp']);
    expect(JSON.parse(entrySnippet('mcpServers', 'gw', entry))).toEqual({ mcpServers: { gw: entry } });
    expect(backupPath('/a/mcp.json', Date.UTC(2030, 0, 2, 3, 4, 5, 6))).toBe('/a/mcp.json.bak-2030-01-02T03-04-05-006Z');
  });
});

describe('mergeEntry', () => {
  const entry = { command: 'npx', args: ['-y', 'mcp-keybridge', 'https://gw.example.com/mcp'] };
  const existing = {
    theme: 'dark',
    mcpServers: {
      other: { command: 'uvx', args: ['other-server'], env: { KEY: '${KEY}' }, disabled: false, autoApprove: ['x'] },
    },
  };

  it('creates a file from nothing, 2-space JSON with a final newline', () => {
    const out = mergeEntry(undefined, { key: 'mcpServers', name: 'gw', entry, force: false });
    expect(out.action).toBe('added');
    if (out.action !== 'added') return;
    expect(out.text).toBe(`${JSON.stringify({ mcpServers: { gw: entry } }, null, 2)}\n`);
  });

  it('keeps every other key and server exactly as it was', () => {
    const out = mergeEntry(JSON.stringify(existing, null, 4), { key: 'mcpServers', name: 'gw', entry, force: false });
    expect(out.action).toBe('added');
    if (out.action !== 'added') return;
    expect(JSON.parse(out.text)).toEqual({ ...existing, mcpServers: { ...existing.mcpServers, gw: entry } });
    expect(out.text.split('\n')[1]).toBe('  "theme": "dark",');
  });

  it('adds the servers key when the file has none, and accepts an empty file and a BOM', () => {
    const out = mergeEntry('\uFEFF{"editor": {"tabSize": 2}}', { key: 'servers', name: 'gw', entry, force: false });
    expect(out.action === 'added' && JSON.parse(out.text)).toEqual({ editor: { tabSize: 2 }, servers: { gw: entry } });
    expect(mergeEntry('  \n', { key: 'mcpServers', name: 'gw', entry, force: false }).action).toBe('added');
  });

  it('says unchanged for an identical entry (key order ignored)', () => {
    const text = JSON.stringify({ mcpServers: { gw: { args: entry.args, command: 'npx' } } });
    expect(mergeEntry(text, { key: 'mcpServers', name: 'gw', entry, force: false })).toEqual({ action: 'unchanged' });
  });

  it('refuses to replace a different entry of the same name unless forced', () => {
    const text = JSON.stringify({ mcpServers: { gw: { command: 'something-else', args: [] }, other: existing.mcpServers.other } });
    const refused = mergeEntry(text, { key: 'mcpServers', name: 'gw', entry, force: false });
    expect(refused.action).toBe('conflict');
    const forced = mergeEntry(text, { key: 'mcpServers', name: 'gw', entry, force: true });
    expect(forced.action).toBe('replaced');
    if (forced.action !== 'replaced') return;
    expect(JSON.parse(forced.text).mcpServers).toEqual({ gw: entry, other: existing.mcpServers.other });
  });

  it('refuses files it cannot merge into safely', () => {
    const merge = (text: string) => () => mergeEntry(text, { key: 'mcpServers', name: 'gw', entry, force: true });
    expect(merge('{ // comment\n "mcpServers": {} }')).toThrow(ConfigFileError);
    expect(merge('[]')).toThrow(/JSON object/);
    expect(merge('{"mcpServers": []}')).toThrow(/"mcpServers" is not a JSON object/);
  });
});

import path from 'node:path';

/**
 * Where each IDE keeps its MCP server list, what an entry looks like, and how to merge one in
 * without disturbing anything else. Pure: home directory, working directory, platform and
 * environment are parameters, so tests can point them anywhere.
 */

export const IDES = ['kiro', 'claude', 'cursor', 'vscode', 'windsurf'] as const;
export type Ide = (typeof IDES)[number];
export type ConfigScope = 'user' | 'workspace';

/** The entry an IDE starts our bridge with. VS Code wants an explicit transport type. */
export type ServerEntry = { command: string; args: string[] } | { type: 'stdio'; command: string; args: string[] };

const IDE_NAMES: Record<Ide, string> = {
  kiro: 'Kiro',
  claude: 'Claude Desktop',
  cursor: 'Cursor',
  vscode: 'VS Code',
  windsurf: 'Windsurf',
};

/** Human name of an IDE, for messages. */
export function ideDisplayName(ide: Ide): string {
  return IDE_NAMES[ide];
}

/** The scopes an IDE has a config file for; the first is the default. */
export function supportedScopes(ide: Ide): readonly ConfigScope[] {
  switch (ide) {
    case 'claude':
    case 'windsurf':
      return ['user'];
    case 'vscode':
      return ['workspace'];
    default:
      return ['user', 'workspace'];
  }
}

/** The object key under which the IDE lists its servers. */
export function serversKey(ide: Ide): 'mcpServers' | 'servers' {
  return ide === 'vscode' ? 'servers' : 'mcpServers';
}

/** Where the config file lives. */
export interface ConfigLocation {
  ide: Ide;
  scope: ConfigScope;
  homeDir: string;
  cwd: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
}

/** The IDE's MCP config file for a scope (paths built with the target platform's separator). */
export function ideConfigPath(loc: ConfigLocation): string {
  const p = loc.platform === 'win32' ? path.win32 : path.posix;
  if (!supportedScopes(loc.ide).includes(loc.scope)) {
    throw new Error(`${ideDisplayName(loc.ide)} has no ${loc.scope}-level MCP config`);
  }
  const workspace = loc.scope === 'workspace';
  switch (loc.ide) {
    case 'kiro':
      return workspace ? p.join(loc.cwd, '.kiro', 'settings', 'mcp.json') : p.join(loc.homeDir, '.kiro', 'settings', 'mcp.json');
    case 'cursor':
      return workspace ? p.join(loc.cwd, '.cursor', 'mcp.json') : p.join(loc.homeDir, '.cursor', 'mcp.json');
    case 'vscode':
      return p.join(loc.cwd, '.vscode', 'mcp.json');
    case 'windsurf':
      return p.join(loc.homeDir, '.codeium', 'windsurf', 'mcp_config.json');
    case 'claude': {
      if (loc.platform === 'darwin') return p.join(loc.homeDir, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
      if (loc.platform === 'win32') {
        const appData = loc.env.APPDATA ? loc.env.APPDATA : p.join(loc.homeDir, 'AppData', 'Roaming');
        return p.join(appData, 'Claude', 'claude_desktop_config.json');
      }
      return p.join(loc.homeDir, '.config', 'Claude', 'claude_desktop_config.json');
    }
  }
}

/** The default launcher; MCP_KEYBRIDGE_CONFIG_COMMAND replaces it (a JSON array, or words split on spaces). */
export const DEFAULT_LAUNCHER = ['npx', '-y', 'mcp-keybridge'] as const;

/** The command words that start mcp-keybridge from an IDE. */
export function launcher(env: NodeJS.ProcessEnv): string[] {
  const override = env.MCP_KEYBRIDGE_CONFIG_COMMAND?.trim();
  if (!override) return [...DEFAULT_LAUNCHER];
  if (override.startsWith('[')) {
    const parsed: unknown = JSON.parse(override);
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((w) => typeof w === 'string' && w.length > 0)) {
      throw new Error('MCP_KEYBRIDGE_CONFIG_COMMAND must be a JSON array of non-empty strings or a space-separated command');
    }
    return parsed as string[];
  }
  return override.split(/\s+/);
}

/** The entry for this IDE: the launcher, then the gateway URL, then the flags to carry over. */
export function buildEntry(ide: Ide, launcherWords: readonly string[], serverArgs: readonly string[]): ServerEntry {
  const [command, ...prefix] = launcherWords;
  if (!command) throw new Error('empty launcher command');
  const args = [...prefix, ...serverArgs];
  return ide === 'vscode' ? { type: 'stdio', command, args } : { command, args };
}

/**
 * The default server name: the gateway's host name with dots turned into dashes, plus the port
 * when one is given ("mcp.example.com" → "mcp-example-com", "127.0.0.1:8080" → "127-0-0-1-8080").
 */
export function defaultServerName(serverUrl: URL): string {
  const host = serverUrl.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const base = [host, serverUrl.port].filter(Boolean).join('-');
  return base.replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'mcp-keybridge';
}

/** What mergeEntry did. */
export type MergeOutcome =
  | { action: 'added' | 'replaced'; text: string; previous?: unknown }
  | { action: 'unchanged' }
  | { action: 'conflict'; existing: unknown };

export class ConfigFileError extends Error {}

/**
 * Merge `entry` as `name` under `key` into a config file's text (undefined: no file yet), keeping
 * every other key and server as it was. A different entry of the same name is a conflict unless
 * `force`; an identical one leaves the file alone. Output is 2-space JSON with a final newline.
 */
export function mergeEntry(existingText: string | undefined, opts: { key: string; name: string; entry: ServerEntry; force: boolean }): MergeOutcome {
  let document: Record<string, unknown> = {};
  if (existingText !== undefined && existingText.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(existingText.replace(/^\uFEFF/, ''));
    } catch (err) {
      throw new ConfigFileError(`it is not plain JSON (${(err as Error).message}); comments or trailing commas are not supported, so add the entry by hand`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigFileError('it does not hold a JSON object');
    document = parsed as Record<string, unknown>;
  }
  const current = document[opts.key];
  if (current !== undefined && (typeof current !== 'object' || current === null || Array.isArray(current))) {
    throw new ConfigFileError(`its "${opts.key}" is not a JSON object`);
  }
  const servers = { ...((current as Record<string, unknown> | undefined) ?? {}) };
  const previous = Object.hasOwn(servers, opts.name) ? servers[opts.name] : undefined;
  if (previous !== undefined) {
    if (sameJson(previous, opts.entry)) return { action: 'unchanged' };
    if (!opts.force) return { action: 'conflict', existing: previous };
  }
  servers[opts.name] = opts.entry;
  const next = { ...document, [opts.key]: servers };
  return { action: previous === undefined ? 'added' : 'replaced', text: `${JSON.stringify(next, null, 2)}\n`, previous };
}

/** The snippet to paste when not writing: just our entry under the IDE's key. */
export function entrySnippet(key: string, name: string, entry: ServerEntry): string {
  return `${JSON.stringify({ [key]: { [name]: entry } }, null, 2)}\n`;
}

/** The backup file name written before a config file is changed. */
export function backupPath(file: string, now: number): string {
  return `${file}.bak-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
}

/** Structural equality of JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as object, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

import path from 'node:path';

/**
 * What `config` knows about one MCP client: where its config file is for each scope and OS, the
 * file's format, where our entry goes in it, how the entry looks, and how the client passes an
 * environment variable from its own environment to a server it spawns. Pure data and functions;
 * the home directory, working directory, platform and environment are parameters.
 */

export type ConfigScope = 'user' | 'workspace' | 'local';
export type FileFormat = 'json' | 'toml' | 'yaml';

/** Where the client runs: everything a path depends on. */
export interface ClientLocation {
  homeDir: string;
  cwd: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
}

/** What the entry must start: the launcher and its arguments, plus the variables the bridge reads. */
export interface EntryInput {
  name: string;
  command: string;
  args: string[];
  /** Names of environment variables the bridge reads (--bearer-env, --header-env, --client-secret-env, ${VAR}). */
  envVars: string[];
}

/** A key path into the document; a list is searched for the item whose `key` equals `value`. */
export type EntryPlace = { kind: 'map'; path: string[] } | { kind: 'list'; path: string[]; key: string; value: string };

/** An item that must be present in a list (VS Code's password inputs), matched by its `key`. */
export interface RequiredListItem {
  path: string[];
  key: string;
  item: Record<string, unknown> & Record<string, string | boolean>;
}

export interface ClientSpec {
  id: string;
  displayName: string;
  /** The client's own documentation for its MCP configuration (cited in the help text). */
  docs: string;
  /** The scopes it has a config file for; the first is the default. */
  scopes: readonly ConfigScope[];
  format: FileFormat;
  file(loc: ClientLocation, scope: ConfigScope, name: string): string;
  /** Other names the client reads for the same file (opencode.jsonc beside opencode.json): an existing one is used. */
  alternatives?(loc: ClientLocation, scope: ConfigScope): string[];
  place(name: string, loc: ClientLocation, scope: ConfigScope): EntryPlace;
  entry(input: EntryInput): Record<string, unknown>;
  /** How the client forwards an environment variable; 'none' means it cannot (a warning is printed). */
  env: 'reference' | 'forward-list' | 'inherits' | 'none';
  /** Items the entry refers to that must exist elsewhere in the file. */
  requiredListItems?(input: EntryInput): RequiredListItem[];
  /** The client's own `mcp add` command line that adds the same entry, when it has one. */
  addCommand?(input: EntryInput, scope: ConfigScope): string[];
  /** Extra lines to say after writing or printing (what the client needs beyond the file). */
  notes?(input: EntryInput, scope: ConfigScope): string[];
  /** What a new file holds before the entry goes in (Continue's block files need a header). */
  skeleton?(input: EntryInput, scope: ConfigScope): Record<string, unknown>;
}

/** Path helpers for the target platform, so a Windows path is built with Windows separators anywhere. */
export function pathFor(loc: ClientLocation): path.PlatformPath {
  return loc.platform === 'win32' ? path.win32 : path.posix;
}

/** %APPDATA% on Windows (or its default under the profile). */
export function appData(loc: ClientLocation): string {
  return loc.env.APPDATA ? loc.env.APPDATA : pathFor(loc).join(loc.homeDir, 'AppData', 'Roaming');
}

/** $XDG_CONFIG_HOME, or ~/.config. */
export function xdgConfig(loc: ClientLocation): string {
  const xdg = loc.env.XDG_CONFIG_HOME;
  return xdg && pathFor(loc).isAbsolute(xdg) ? xdg : pathFor(loc).join(loc.homeDir, '.config');
}

/** VS Code's per-user data folder ("User"), where its user mcp.json and extensions' global storage live. */
export function vscodeUserDir(loc: ClientLocation): string {
  const p = pathFor(loc);
  if (loc.platform === 'darwin') return p.join(loc.homeDir, 'Library', 'Application Support', 'Code', 'User');
  if (loc.platform === 'win32') return p.join(appData(loc), 'Code', 'User');
  return p.join(xdgConfig(loc), 'Code', 'User');
}

/** `{ VAR: reference(VAR) }` for each variable the bridge reads, or undefined when there are none. */
export function envMap(vars: readonly string[], reference: (name: string) => string): Record<string, string> | undefined {
  if (vars.length === 0) return undefined;
  return Object.fromEntries(vars.map((v) => [v, reference(v)]));
}

/** The usual `{command, args, env?}` entry, with `extra` keys first (e.g. `type`). */
export function commandEntry(input: EntryInput, env: Record<string, string> | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, command: input.command, args: input.args, ...(env ? { env } : {}) };
}

import { copyFile, mkdir, readFile, realpath, rename, stat, unlink, writeFile, constants as fsConstants } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Argument, Command, Option } from 'commander';
import type { Deps } from '../deps.js';
import { KeybridgeError, UsageError } from '../errors.js';
import {
  backupPath,
  buildEntry,
  ConfigFileError,
  defaultServerName,
  entrySnippet,
  ideConfigPath,
  ideDisplayName,
  IDES,
  launcher,
  mergeEntry,
  serversKey,
  supportedScopes,
  type ConfigScope,
  type Ide,
} from './ideConfig.js';
import { toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { addBridgeOptions } from './serveCommand.js';
import { parseServerUrl } from './serverUrl.js';
import { givenFlagArgs } from './tokenCommand.js';

export interface ConfigOptions {
  ide: Ide;
  /** The gateway URL as the user typed it. */
  url: string;
  serverUrl: URL;
  /** Bridge and profile flags to carry into the entry, as argv. */
  bridgeArgs: string[];
  name?: string;
  scope?: ConfigScope;
  write: boolean;
  force: boolean;
}

/** Attribute names of the config command's own options (not carried into the entry). */
const OWN_OPTIONS = new Set(['name', 'configScope', 'write', 'force']);

/** Print (or, with --write, merge in) the IDE's MCP config entry that starts this bridge. */
export async function runConfig(opts: ConfigOptions, deps: Deps): Promise<number> {
  const scope = opts.scope ?? supportedScopes(opts.ide)[0]!;
  if (!supportedScopes(opts.ide).includes(scope)) {
    throw new UsageError(`${ideDisplayName(opts.ide)} has no ${scope}-level MCP config; use --config-scope ${supportedScopes(opts.ide).join(' or ')}`);
  }
  let words: string[];
  try {
    words = launcher(deps.env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const name = opts.name ?? defaultServerName(opts.serverUrl);
  const entry = buildEntry(opts.ide, words, [opts.url, ...opts.bridgeArgs]);
  const key = serversKey(opts.ide);
  const file = ideConfigPath({ ide: opts.ide, scope, homeDir: deps.homeDir, cwd: deps.cwd, platform: deps.platform, env: deps.env });
  warnAboutLiteralSecrets(opts.bridgeArgs, deps);

  if (!opts.write) {
    deps.stdout.write(entrySnippet(key, name, entry));
    deps.log.say(`Add this to ${file} (under "${key}"), or run the same command with --write to merge it in.`);
    return 0;
  }

  const target = await resolveTarget(file);
  let existing: string | undefined;
  try {
    existing = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(`read ${target}`, err);
  }
  let outcome;
  try {
    outcome = mergeEntry(existing, { key, name, entry, force: opts.force });
  } catch (err) {
    if (err instanceof ConfigFileError) throw new KeybridgeError(`cannot update ${target}: ${err.message}`, { code: 'config_unreadable' });
    throw err;
  }
  if (outcome.action === 'unchanged') {
    deps.log.say(`"${name}" is already configured in ${target}; nothing changed.`);
    return 0;
  }
  if (outcome.action === 'conflict') {
    throw new KeybridgeError(
      `${target} already has a different server named "${name}"; pass --force to replace it, or --name to add this one under another name`,
      { code: 'config_conflict' },
    );
  }
  await mkdir(path.dirname(target), { recursive: true });
  let backup: string | undefined;
  if (existing !== undefined) {
    backup = backupPath(target, deps.clock.now());
    try {
      await copyFile(target, backup, fsConstants.COPYFILE_EXCL);
    } catch (err) {
      throw fileError(`back up ${target} to ${backup} (nothing was changed)`, err);
    }
  }
  await writeAtomically(target, outcome.text);
  const verb = outcome.action === 'added' ? 'Added' : 'Replaced';
  deps.log.say(`✓ ${verb} "${name}" in ${ideDisplayName(opts.ide)}'s ${target}${backup ? ` (backup: ${backup})` : ''}.`);
  deps.log.say(`  Sign in once with \`mcp-keybridge login ${opts.url}\` (same flags), then restart or reload ${ideDisplayName(opts.ide)}.`);
  return 0;
}

/** Write through a symlinked config file (dotfile managers) instead of replacing the link. */
async function resolveTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return file;
  }
}

/** Temp file next to the target, then rename: an interrupted write never leaves half a config. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    const mode = await stat(file).then((s) => s.mode & 0o777, () => 0o644);
    await writeFile(temp, text, { mode, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw fileError(`write ${file}`, err);
  }
}

function fileError(action: string, err: unknown): KeybridgeError {
  const code = (err as NodeJS.ErrnoException).code;
  return new KeybridgeError(`could not ${action}: ${code ?? (err as Error).message}`, { code: 'config_write_failed', cause: err });
}

/** Header values typed literally end up in plain text in the IDE's config file; ${VAR} keeps them out. */
function warnAboutLiteralSecrets(args: string[], deps: Deps): void {
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '--header' && !/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(args[i + 1]!)) {
      deps.log.warn('a --header value is written to the IDE config in plain text; use ${VAR} and set VAR in the IDE\'s environment for secrets');
      return;
    }
  }
}

interface RawConfigFlags extends RawProfileFlags {
  name?: string;
  configScope?: ConfigScope;
  write?: boolean;
  force?: boolean;
}

/** `config <ide> <url>`: flag wiring only. Takes every bridge flag, and carries the given ones into the entry. */
export function configCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('config')
    .description("print or write an IDE's MCP config entry that runs this bridge for a gateway")
    .addArgument(new Argument('<ide>', 'the IDE').choices(IDES))
    .argument('<url>', 'the remote MCP gateway URL')
    .option('--name <name>', 'server name in the IDE config (default: from the gateway host)')
    .addOption(new Option('--config-scope <scope>', 'user-level or workspace-level config file (default: user; VS Code: workspace)').choices(['user', 'workspace']))
    .option('--write', 'merge the entry into the config file (a backup is written first)')
    .option('--force', 'with --write: replace a different entry of the same name');
  addBridgeOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge config kiro https://gateway.example.com/mcp
  $ mcp-keybridge config claude https://gateway.example.com/mcp --write
  $ mcp-keybridge config cursor https://gateway.example.com/mcp --config-scope workspace --write
  $ mcp-keybridge config vscode https://gateway.example.com/mcp --client-id my-app --read-only --write

Every bridge flag given here (--client-id, --scope, --token-store, --header, --allow-tool, …) is
carried into the entry, so the IDE's bridge uses the session \`mcp-keybridge login\` stored with the
same flags. Files: Kiro ~/.kiro/settings/mcp.json (workspace .kiro/settings/mcp.json); Claude Desktop
claude_desktop_config.json in its per-OS folder; Cursor ~/.cursor/mcp.json (workspace .cursor/mcp.json);
VS Code .vscode/mcp.json; Windsurf ~/.codeium/windsurf/mcp_config.json.
--config-scope is not called --scope because --scope already means the OAuth scopes.
MCP_KEYBRIDGE_CONFIG_COMMAND replaces the launcher "npx -y mcp-keybridge" (words, or a JSON array).`,
  );
  cmd.action(async (ide: Ide, url: string, raw: RawConfigFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    // Validate the profile flags now, so a typo fails here rather than in the IDE.
    toAuthOptions(serverUrl, { ...raw, clientSecretEnv: undefined }, deps.env, false);
    if (raw.name !== undefined && !/^[A-Za-z0-9_.@-][A-Za-z0-9_.@ -]{0,63}$/.test(raw.name)) {
      throw new UsageError('--name takes 1-64 letters, digits, spaces, "_", ".", "@" or "-"');
    }
    const opts: ConfigOptions = {
      ide,
      url,
      serverUrl,
      bridgeArgs: givenFlagArgs(cmd, (attr) => !OWN_OPTIONS.has(attr)),
      name: raw.name,
      scope: raw.configScope,
      write: raw.write === true,
      force: raw.force === true,
    };
    setExitCode(await runConfig(opts, deps));
  });
  return cmd;
}

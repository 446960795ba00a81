import { copyFile, mkdir, readFile, realpath, rename, stat, unlink, writeFile, constants as fsConstants } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Argument, Command, Option } from 'commander';
import type { Deps } from '../deps.js';
import { KeybridgeError, UsageError } from '../errors.js';
import { backupPath, defaultServerName, environmentVariablesRead, launcher } from './ideConfig.js';
import type { ClientLocation, ClientSpec, ConfigScope, EntryInput } from './clients/clientSpec.js';
import { entrySnippet, mergeClientEntry } from './clients/clientEntry.js';
import { ConfigFileError, openDocument } from './clients/configDocument.js';
import { CLIENT_IDS, CLIENTS, clientFile, clientSpec } from './clients/registry.js';
import { runConfigList } from './configList.js';
import { toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { addBridgeOptions } from './serveCommand.js';
import { parseServerUrl } from './serverUrl.js';
import { givenFlagArgs, shellWord } from './tokenCommand.js';

export interface ConfigOptions {
  client: ClientSpec;
  /** The gateway URL as the user typed it. */
  url: string;
  serverUrl: URL;
  /** Bridge and profile flags to carry into the entry, as argv. */
  bridgeArgs: string[];
  name?: string;
  scope?: ConfigScope;
  write: boolean;
  force: boolean;
  /** Print the client's own `mcp add` command instead of the entry. */
  printCommand: boolean;
}

/** Attribute names of the config command's own options (not carried into the entry). */
const OWN_OPTIONS = new Set(['name', 'configScope', 'write', 'force', 'printCommand', 'list']);

/** Clients that substitute ${VAR} in a server's args from their own environment before spawning it. */
const EXPANDS_ARGS = new Set(['claude-code', 'gemini']);

/** Print (or, with --write, merge in) the client's MCP config entry that starts this bridge. */
export async function runConfig(opts: ConfigOptions, deps: Deps): Promise<number> {
  const spec = opts.client;
  const scope = opts.scope ?? spec.scopes[0]!;
  if (!spec.scopes.includes(scope)) {
    throw new UsageError(`${spec.displayName} has no ${scope}-level MCP config; use --config-scope ${spec.scopes.join(' or ')}`);
  }
  let words: string[];
  try {
    words = launcher(deps.env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [command, ...prefix] = words;
  if (!command) throw new UsageError('MCP_KEYBRIDGE_CONFIG_COMMAND is empty');
  const input: EntryInput = {
    name: opts.name ?? defaultServerName(opts.serverUrl),
    command,
    args: [...prefix, opts.url, ...opts.bridgeArgs],
    envVars: environmentVariablesRead(opts.bridgeArgs),
  };
  const loc: ClientLocation = { homeDir: deps.homeDir, cwd: deps.cwd, platform: deps.platform, env: deps.env };
  const file = clientFile(spec, loc, scope, input.name);
  warnAboutSecrets(opts.bridgeArgs, input, spec, deps);

  if (opts.printCommand) {
    const argv = spec.addCommand?.(input, scope) ?? [];
    if (argv.length === 0) {
      throw new UsageError(
        spec.id === 'vscode'
          ? '`code --add-mcp` adds to the user profile and cannot name a password input: use --config-scope user without secret flags, or --write'
          : `${spec.displayName} has no \`mcp add\` command for this; use --write, or paste the printed entry into ${file}`,
      );
    }
    deps.stdout.write(`${argv.map(shellWord).join(' ')}\n`);
    for (const note of spec.notes?.(input, scope) ?? []) deps.log.say(note);
    return 0;
  }

  if (!opts.write) {
    deps.stdout.write(entrySnippet({ spec, input, loc, scope }));
    deps.log.say(`Add this to ${file}, or run the same command with --write to merge it in.`);
    for (const note of spec.notes?.(input, scope) ?? []) deps.log.say(note);
    return 0;
  }

  const target = await resolveTarget(file);
  let existing: string | undefined;
  try {
    existing = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(`read ${target}`, err);
  }
  let text: string;
  let commentsDropped: boolean;
  let action: string;
  try {
    const doc = openDocument(spec.format, existing);
    const outcome = mergeClientEntry(doc, { spec, input, loc, scope, force: opts.force, newFile: existing === undefined });
    if (outcome.action === 'conflict') {
      throw new KeybridgeError(
        `${target} already has a different server named "${input.name}"; pass --force to replace it, or --name to add this one under another name`,
        { code: 'config_conflict' },
      );
    }
    if (outcome.action === 'unchanged') {
      deps.log.say(`"${input.name}" is already configured in ${target}; nothing changed.`);
      return 0;
    }
    action = outcome.action;
    text = doc.text();
    commentsDropped = doc.commentsDropped;
  } catch (err) {
    if (err instanceof ConfigFileError) {
      throw new KeybridgeError(`cannot update ${target}: ${err.message}; fix it or add the entry by hand (\`config ${spec.id} … \` without --write prints it)`, {
        code: 'config_unreadable',
      });
    }
    throw err;
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
  await writeAtomically(target, text);
  const verb = action === 'added' ? 'Added' : 'Replaced';
  deps.log.say(`✓ ${verb} "${input.name}" in ${spec.displayName}'s ${target}${backup ? ` (backup: ${backup})` : ''}.`);
  if (commentsDropped) deps.log.warn(`${target} was rewritten without its comments (TOML cannot be edited in place here); they are in the backup`);
  for (const note of spec.notes?.(input, scope) ?? []) deps.log.say(`  ${note}`);
  deps.log.say(`  Sign in once with \`mcp-keybridge login ${opts.url}\` (same flags), then restart or reload ${spec.displayName}.`);
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

/**
 * Secrets belong in the environment, named by --bearer-env / --header-env: a literal --header
 * value lands in the config file in plain text, and a ${VAR} in --header is substituted into the
 * bridge's command line (visible in `ps`) by clients that expand args.
 */
function warnAboutSecrets(args: string[], input: EntryInput, spec: ClientSpec, deps: Deps): void {
  const headers = args.filter((_a, i) => args[i - 1] === '--header');
  if (headers.some((h) => !/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(h))) {
    deps.log.warn('a --header value is written to the config file in plain text; for a secret use --bearer-env VAR or --header-env Name=VAR');
  }
  if (EXPANDS_ARGS.has(spec.id) && headers.some((h) => /\$\{/.test(h))) {
    deps.log.warn(`${spec.displayName} substitutes \${VAR} in args from its own environment, which puts the value on the bridge's command line; use --bearer-env VAR or --header-env Name=VAR instead`);
  }
  if (input.envVars.length === 0) return;
  const list = input.envVars.join(', ');
  if (spec.env === 'none') {
    deps.log.warn(`${spec.displayName} cannot pass a variable from its own environment to a server: add ${list} to the entry's "env" by hand (in plain text), or use a sign-in instead of a static secret`);
  } else if (spec.env === 'inherits') {
    deps.log.say(`${spec.displayName} starts the bridge with its own environment: ${list} must be set where ${spec.displayName} is started.`);
  }
}

interface RawConfigFlags extends RawProfileFlags {
  name?: string;
  configScope?: ConfigScope;
  write?: boolean;
  force?: boolean;
  printCommand?: boolean;
  list?: boolean;
}

/** `config <client> <url>` and `config --list [url]`: flag wiring only. Every bridge flag given is carried into the entry. */
export function configCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('config')
    .description("print or write an MCP client's config entry that runs this bridge for a gateway; --list shows the entries there are")
    .addArgument(new Argument('[client]', `the MCP client: ${CLIENT_IDS.join(', ')}`))
    .argument('[url]', 'the remote MCP gateway URL')
    .option('--name <name>', 'server name in the client config (default: from the gateway host)')
    .addOption(
      new Option('--config-scope <scope>', 'which of the client\'s files: user, workspace (project) or local (Claude Code\'s per-project entry in ~/.claude.json)').choices([
        'user',
        'workspace',
        'local',
      ]),
    )
    .option('--write', 'merge the entry into the config file (a backup is written first)')
    .option('--force', 'with --write: replace a different entry of the same name')
    .option('--print-command', "print the client's own `mcp add` command line instead (Claude Code, Gemini CLI, Codex, VS Code)")
    .option('--list', 'list the entries that run mcp-keybridge in every known client config (for one gateway when a URL is given)');
  addBridgeOptions(cmd);
  cmd.addHelpText('after', helpText());
  cmd.action(async (client: string | undefined, url: string | undefined, raw: RawConfigFlags) => {
    if (raw.list) {
      // `config --list <url>`: the one operand is the URL.
      const listUrl = url ?? (client && !CLIENT_IDS.includes(client) ? client : undefined);
      setExitCode(await runConfigList({ url: listUrl, clients: client && CLIENT_IDS.includes(client) ? [clientSpec(client)] : CLIENTS }, deps));
      return;
    }
    if (client && !CLIENT_IDS.includes(client)) throw new UsageError(`unknown client "${client}"; choose one of ${CLIENT_IDS.join(', ')}`);
    if (!client || !url) throw new UsageError(`config needs a client and the gateway URL, e.g. \`mcp-keybridge config claude-code https://gateway.example.com/mcp\` (clients: ${CLIENT_IDS.join(', ')})`);
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    // Validate the profile flags now, so a typo fails here rather than in the client.
    toAuthOptions(serverUrl, { ...raw, clientSecretEnv: undefined, enterpriseClientSecretEnv: undefined }, deps.env, false);
    if (raw.name !== undefined && !/^[A-Za-z0-9_.@-][A-Za-z0-9_.@ -]{0,63}$/.test(raw.name)) {
      throw new UsageError('--name takes 1-64 letters, digits, spaces, "_", ".", "@" or "-"');
    }
    const opts: ConfigOptions = {
      client: clientSpec(client),
      url,
      serverUrl,
      bridgeArgs: givenFlagArgs(cmd, (attr) => !OWN_OPTIONS.has(attr)),
      name: raw.name,
      scope: raw.configScope,
      write: raw.write === true,
      force: raw.force === true,
      printCommand: raw.printCommand === true,
    };
    setExitCode(await runConfig(opts, deps));
  });
  return cmd;
}

function helpText(): string {
  const rows = CLIENTS.map((c) => `  ${c.id.padEnd(12)} ${c.displayName.padEnd(24)} scopes: ${c.scopes.join(', ')}  (${c.docs})`).join('\n');
  return `
Examples:
  $ mcp-keybridge config claude-code https://gateway.example.com/mcp --write
  $ mcp-keybridge config claude-code https://gateway.example.com/mcp --print-command
  $ mcp-keybridge config codex https://gateway.example.com/mcp --bearer-env GW_TOKEN --write
  $ mcp-keybridge config vscode https://gateway.example.com/mcp --client-id my-app --read-only --write
  $ mcp-keybridge config opencode https://gateway.example.com/mcp --config-scope workspace --write
  $ mcp-keybridge config --list

Clients (the first scope is the default):
${rows}

Every bridge flag given here (--client-id, --scope, --token-store, --bearer-env, --allow-tool, …) is
carried into the entry, so the client's bridge uses the session \`mcp-keybridge login\` stored with
the same flags. A static secret goes in the client's environment, named with --bearer-env VAR or
--header-env Name=VAR; the entry then passes VAR the client's way (Claude Code \${VAR}, Cursor,
Windsurf and Roo \${env:VAR}, VS Code a password input, opencode {env:VAR}, Codex env_vars, Goose
env_keys, Continue \${{ secrets.VAR }}). --config-scope is not called --scope because --scope
already means the OAuth scopes. MCP_KEYBRIDGE_CONFIG_COMMAND replaces the launcher
"npx -y mcp-keybridge" (words, or a JSON array).`;
}

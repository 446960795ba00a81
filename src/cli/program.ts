import { Command } from 'commander';
import type { Deps } from '../deps.js';
import { addBridgeOptions, runBridgeCommand } from './serveCommand.js';

const VERSION = '0.1.0';

type MakeCommand = (deps: Deps, setExitCode: (code: number) => void) => Command;

/**
 * The other commands, loaded only when the command line may need them. Their modules pull in the
 * OAuth stack (openid-client, jose), discovery, revocation and the doctor's probes: a third of a
 * second of module loading that the bridge — started by the IDE for every session — never uses.
 */
const OTHER_COMMANDS: Record<string, () => Promise<MakeCommand>> = {
  login: async () => (await import('./loginCommand.js')).loginCommand,
  logout: async () => (await import('./logoutCommand.js')).logoutCommand,
  revoke: async () => (await import('./revokeCommand.js')).revokeCommand,
  status: async () => (await import('./statusCommand.js')).statusCommand,
  token: async () => (await import('./tokenCommand.js')).tokenCommand,
  cache: async () => (await import('./cacheCommand.js')).cacheCommand,
  config: async () => (await import('./configCommand.js')).configCommand,
  doctor: async () => (await import('./doctorCommand.js')).doctorCommand,
  completion: async () => (await import('./completionCommand.js')).completionCommand,
};

/**
 * Whether this command line can only be the bridge: no word of it names another command, asks for
 * help or is `help`. Then commander could not dispatch to another command anyway (it matches the
 * first operand against command names), so leaving them unregistered changes nothing. Any doubt
 * (a flag value that happens to be a command name) loads them all, which is always correct.
 */
export function isBridgeOnly(args: readonly string[]): boolean {
  return !args.some((a) => Object.hasOwn(OTHER_COMMANDS, a) || a === 'help' || a === '--help' || a === '-h');
}

/** commander wiring only: flags become typed options, then a core call. `argv` as process.argv. */
export async function buildProgram(deps: Deps, setExitCode: (code: number) => void, argv: readonly string[]): Promise<Command> {
  const program = new Command('mcp-keybridge')
    .description('A local stdio MCP server that relays to a remote, OAuth-protected MCP gateway.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => deps.stderr.write(s) })
    .showHelpAfterError('(run mcp-keybridge --help for usage)')
    .enablePositionalOptions()
    .argument('[url]', 'the remote MCP gateway URL (same as `serve <url>`)');
  addBridgeOptions(program);
  program.action(async (url: string | undefined, opts: Record<string, unknown>) => {
    if (!url) {
      program.outputHelp({ error: true });
      setExitCode(2);
      return;
    }
    setExitCode(await runBridgeCommand(url, opts, deps));
  });

  const args = argv.slice(2);
  // `serve` too is left out of a plain `mcp-keybridge <url> …` line (the IDE's): no word of it is
  // `serve`, so commander could not dispatch to it, and its copy of the bridge flags costs ~1 ms.
  // No words at all prints the help: every command is registered for it.
  const bridgeOnly = args.length > 0 && isBridgeOnly(args);
  if (bridgeOnly && !args.includes('serve')) return program;

  const serve = new Command('serve')
    .description('run the bridge: stdio MCP server on this side, the remote gateway on the other')
    .argument('<url>', 'the remote MCP gateway URL')
    .exitOverride();
  addBridgeOptions(serve);
  serve.action(async (url: string, opts: Record<string, unknown>) => {
    setExitCode(await runBridgeCommand(url, opts, deps));
  });
  program.addCommand(serve);

  if (bridgeOnly) return program;
  const makers = await Promise.all(Object.values(OTHER_COMMANDS).map((load) => load()));
  for (const make of makers) {
    program.addCommand(inherit(make(deps, setExitCode), program));
  }
  return program;
}

/** Give a command (and its subcommands) the program's exit override and output settings. */
function inherit(cmd: Command, parent: Command): Command {
  cmd.copyInheritedSettings(parent);
  for (const sub of cmd.commands) inherit(sub, cmd);
  return cmd;
}

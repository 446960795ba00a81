import { Command } from 'commander';
import type { Deps } from '../deps.js';
import { cacheCommand } from './cacheCommand.js';
import { configCommand } from './configCommand.js';
import { doctorCommand } from './doctorCommand.js';
import { loginCommand } from './loginCommand.js';
import { logoutCommand } from './logoutCommand.js';
import { revokeCommand } from './revokeCommand.js';
import { addBridgeOptions, runBridgeCommand } from './serveCommand.js';
import { statusCommand } from './statusCommand.js';
import { tokenCommand } from './tokenCommand.js';

const VERSION = '0.1.0';

/** commander wiring only: flags become typed options, then a core call. */
export function buildProgram(deps: Deps, setExitCode: (code: number) => void): Command {
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

  const serve = new Command('serve')
    .description('run the bridge: stdio MCP server on this side, the remote gateway on the other')
    .argument('<url>', 'the remote MCP gateway URL')
    .exitOverride();
  addBridgeOptions(serve);
  serve.action(async (url: string, opts: Record<string, unknown>) => {
    setExitCode(await runBridgeCommand(url, opts, deps));
  });
  program.addCommand(serve);

  for (const make of [loginCommand, logoutCommand, revokeCommand, statusCommand, tokenCommand, cacheCommand, configCommand, doctorCommand]) {
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

import { homedir } from 'node:os';
import { KeybridgeError, ExitCode } from '../errors.js';
import { Logger } from '../log/logger.js';
import { redactShapes } from '../log/redact.js';
import type { Deps } from '../deps.js';
import { garbageControl } from './garbageCollector.js';
import { buildProgram } from './program.js';

/** Build the one Deps object from the real process. */
function realDeps(debug: boolean): Deps {
  const log = new Logger({ sink: process.stderr, level: debug ? 'debug' : 'info' });
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    env: process.env,
    clock: { now: () => Date.now() },
    log,
    fetch: globalThis.fetch,
    homeDir: homedir(),
    cwd: process.cwd(),
    platform: process.platform,
    openBrowser: async () => {
      throw new Error('no browser opener configured');
    },
    garbage: garbageControl(),
    onShutdownSignal(handler) {
      const onSig = (sig: NodeJS.Signals): void => handler(sig);
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      return () => {
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      };
    },
  };
}

/** The entry point: the only place that exits the process. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const debug = argv.includes('--debug') || process.env.MCP_KEYBRIDGE_DEBUG === '1';
  const deps = realDeps(debug);
  let code: number = ExitCode.Ok;
  try {
    const program = await buildProgram(
      deps,
      (c) => {
        code = c;
      },
      argv,
    );
    await program.parseAsync(argv);
  } catch (err) {
    code = reportError(err, deps);
  }
  // Flush stdout before exiting so the last JSON-RPC message is not cut off.
  await new Promise<void>((resolve) => {
    if (process.stdout.writableLength === 0) resolve();
    else process.stdout.write('', () => resolve());
  });
  process.exit(code);
}

function reportError(err: unknown, deps: Deps): number {
  const e = err as { code?: string; exitCode?: number; message?: string };
  if (err instanceof KeybridgeError) {
    deps.log.error(err.message);
    return err.exitCode;
  }
  // commander signals --help/--version and usage errors with CommanderError (already printed).
  if (typeof e?.code === 'string' && e.code.startsWith('commander.')) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.Ok;
    return ExitCode.Usage;
  }
  // Unexpected: say what happened without a stack that could carry a secret (run with --debug for it).
  deps.log.error(`unexpected error: ${redactShapes(e?.message ?? String(err))}`);
  if (deps.log.debugEnabled && err instanceof Error && err.stack) deps.log.debug(err.stack);
  return ExitCode.Failure;
}

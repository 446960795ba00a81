import { Command } from 'commander';
import type { AuthOptions } from '../auth/options.js';
import { isExpired, type StoredSession } from '../auth/tokenSet.js';
import type { Deps } from '../deps.js';
import { KeybridgeError } from '../errors.js';
import { Logger, type TextSink } from '../log/logger.js';
import type { StoreKind } from '../store/tokenStore.js';
import { addProfileOptions, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession } from './sessionFactory.js';
import { sessionLines, sessionStatus } from './statusCommand.js';

export interface LoginOptions {
  auth: AuthOptions;
  storeKind: StoreKind;
  /** Sign in again even when a valid session is stored. */
  force: boolean;
}

/** A spinner on an interactive stderr; other stderr lines (the sign-in URL) are written around it. */
interface Spinner {
  start(text: string): void;
  stop(): void;
  sink: TextSink;
}

async function makeSpinner(deps: Deps): Promise<Spinner> {
  // ora loops forever clearing lines on a terminal that reports 0 columns (a bare pty): no spinner there.
  const columns = (deps.stderr as { columns?: number }).columns ?? 0;
  if (!deps.stderrIsTTY || !(columns > 0)) {
    return { start: () => undefined, stop: () => undefined, sink: deps.stderr };
  }
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: deps.stderr, discardStdin: false });
  return {
    start: (text) => {
      spinner.start(text);
    },
    stop: () => {
      spinner.stop();
    },
    sink: {
      write: (chunk: string) => {
        const spinning = spinner.isSpinning;
        if (spinning) spinner.clear();
        deps.stderr.write(chunk);
        if (spinning) spinner.render();
      },
    },
  };
}

/** Sign in interactively (unless a valid session is stored) and say who is signed in. */
export async function runLogin(opts: LoginOptions, deps: Deps): Promise<number> {
  const spinner = await makeSpinner(deps);
  // Same redactor and level as the main logger, but lines go around the spinner.
  const log = new Logger({ sink: spinner.sink, level: deps.log.debugEnabled ? 'debug' : 'info', redactor: deps.log.redactor });
  const loginDeps: Deps = { ...deps, log };
  if (opts.storeKind === 'file') log.warn('tokens are kept in a plaintext file (--token-store file), protected only by file permissions');
  if (opts.storeKind === 'memory') log.warn('--token-store memory keeps nothing: the sign-in is forgotten when this command ends');

  const cancel = new AbortController();
  const unsubscribe = deps.onShutdownSignal(() => cancel.abort(new Error('interrupted')));
  try {
    const { session, store } = await openAuthSession(opts.auth, opts.storeKind, loginDeps, { signal: cancel.signal });
    const held = await session.currentSession();
    let result: StoredSession;
    if (held && !opts.force && !isExpired(held, deps.clock.now())) {
      log.say(`Already signed in to ${held.server}; use --force to sign in again.`);
      result = held;
    } else {
      spinner.start(
        opts.auth.grant === 'client-credentials'
          ? 'Requesting a token…'
          : opts.auth.grant === 'device'
            ? 'Waiting for the code to be confirmed in a browser (Ctrl-C to cancel)…'
            : 'Waiting for the sign-in to finish in the browser (Ctrl-C to cancel)…',
      );
      try {
        result = await session.signIn({ force: opts.force, signal: cancel.signal });
      } finally {
        spinner.stop();
      }
    }
    const now = deps.clock.now();
    log.say(sessionLines(sessionStatus(session.key, result, store, now), now).join('\n'));
    return 0;
  } catch (err) {
    if (cancel.signal.aborted) throw new KeybridgeError('sign-in cancelled', { code: 'cancelled', cause: err });
    throw err;
  } finally {
    unsubscribe();
  }
}

interface RawLoginFlags extends RawProfileFlags {
  force?: boolean;
  allowHttp?: boolean;
}

/** `login <url>`: flag wiring only. */
export function loginCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('login')
    .description('sign in to a gateway in the browser and keep the session in the token store')
    .argument('<url>', 'the remote MCP gateway URL')
    .option('--force', 'sign in again even if a valid session is stored')
    .option('--allow-http', 'allow plain http to a non-loopback gateway or identity provider (unsafe)')
    .option('--debug', 'more detail on stderr (secrets are always masked)');
  addProfileOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge login https://gateway.example.com/mcp
  $ mcp-keybridge login https://gateway.example.com/mcp --no-browser     # print the URL, open it anywhere,
                                                                        # paste back the address the browser ends on
  $ mcp-keybridge login https://gateway.example.com/mcp --client-id my-app --scope "openid mcp:tools"
  $ mcp-keybridge login https://gateway.example.com/mcp --force          # replace a stored session

Use the same profile flags (--client-id, --scope, --resource, --token-store) as in your IDE's
bridge entry, so the bridge finds this session. Run \`mcp-keybridge status\` to see it.`,
  );
  cmd.action(async (url: string, raw: RawLoginFlags) => {
    const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
    const { auth, storeKind } = toAuthOptions(serverUrl, raw, deps.env, true);
    if (auth.clientSecret) deps.log.redactor.addSecret(auth.clientSecret);
    // --force also accepts an authorization server other than the one the client's credentials were first used with.
    // A terminal (or --no-browser) may paste the browser's final address: sign-in from a remote machine.
    const acceptPastedRedirect = auth.noBrowser === true || deps.stdinIsTTY;
    setExitCode(await runLogin({ auth: { ...auth, rebindIssuer: raw.force === true, acceptPastedRedirect }, storeKind, force: raw.force === true }, deps));
  });
  return cmd;
}

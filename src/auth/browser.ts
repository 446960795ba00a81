import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { UnsafeServerError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { browserEnvironment } from './browserEnv.js';
import { isLoopbackHost } from './endpointPolicy.js';
import { sanitizeServerText } from './oauthErrors.js';
import { detectWsl, systemEnvironmentProbe, wslOpenArgv, type EnvironmentProbe } from './remoteEnvironment.js';

/**
 * Characters a URL we open may contain after WHATWG serialisation. Everything else — quotes,
 * backticks, `$`, `;`, `|`, `<`, `>`, `\`, `^`, `{`, `}`, parentheses, whitespace, controls — is
 * refused: the URL comes from a server, and on Windows `open` hands it to PowerShell.
 * An authorization URL built by openid-client percent-encodes all of those anyway.
 */
const SAFE_URL = /^[A-Za-z0-9\-._~:/?#[\]@!&*+,=%]+$/;

/**
 * Validate a URL before it reaches a browser: https, or http on a loopback host (or any host
 * with allowHttp); no credentials; nothing shell- or PowerShell-active. Returns the parsed URL;
 * callers must only ever pass on its `href`.
 */
export function validateBrowserUrl(raw: string, opts: { allowHttp?: boolean } = {}): URL {
  const refuse = (why: string): never => {
    throw new UnsafeServerError(`refusing to open ${JSON.stringify(sanitizeServerText(raw, 120))} in a browser: ${why}`, 'unsafe_browser_url');
  };
  if (raw.startsWith('-')) refuse('it starts with "-" (would be read as an option)');
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) refuse('it contains whitespace or control characters');
  // Checked on the raw text as well as on the serialisation: URL parsing would quietly
  // percent-encode some of these, but a URL that arrives with them is not one we built.
  if (!SAFE_URL.test(raw) || raw.includes('$(')) refuse('it contains characters that are not allowed');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('it is not a valid absolute URL');
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname) && !opts.allowHttp) refuse('plain http is only allowed for loopback hosts');
  } else if (url.protocol !== 'https:') {
    refuse(`the scheme ${url.protocol} is not allowed (https only)`);
  }
  if (url.username || url.password) refuse('it contains user credentials');
  if (!SAFE_URL.test(url.href) || url.href.includes('$(')) refuse('it contains characters that are not allowed');
  return url;
}

/**
 * Split $BROWSER into argv on whitespace only — no shell, no quoting, no expansion — and put the
 * URL in as one argument: replacing a `%s` token, or appended.
 */
export function browserArgv(browserEnv: string, href: string): string[] | undefined {
  const parts = browserEnv.split(/\s+/).filter(Boolean);
  if (parts.length === 0) return undefined;
  let replaced = false;
  const argv = parts.map((p) => {
    if (p === '%s') {
      replaced = true;
      return href;
    }
    return p;
  });
  if (!replaced) argv.push(href);
  return argv;
}

/**
 * How a URL is opened on Windows when $BROWSER is unset: rundll32 url.dll,FileProtocolHandler
 * (ShellExecute on the URL, as the GitHub CLI and Go's pkg/browser do), by absolute path (a
 * bare name would be looked up in the working directory first — an IDE's workspace), with the
 * URL as one argument. Not the `open` package: on win32 it builds a PowerShell command with the
 * URL inside a double-quoted string, where `$(…)`, `$var` and backticks are live.
 */
export function windowsOpenArgv(href: string, env: NodeJS.ProcessEnv): [string, ...string[]] {
  const root = env.SystemRoot || env.SYSTEMROOT || env.windir || 'C:\\Windows';
  return [path.win32.join(root, 'System32', 'rundll32.exe'), 'url.dll,FileProtocolHandler', href];
}

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** What createBrowserOpener needs. */
export interface BrowserOpenerOptions {
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Injected for tests; node:child_process spawn by default. */
  spawn?: SpawnFn;
  /** Only print the URL. */
  noBrowser?: boolean;
  /** Permit non-loopback http URLs (--allow-http). */
  allowHttp?: boolean;
  /** Opens a URL when no opener argv applies; by default spawns desktopOpenArgv with the minimal environment. Never used on win32. */
  openUrl?: (href: string) => Promise<void>;
  /** The platform (injected for tests); process.platform by default. */
  platform?: NodeJS.Platform;
  /** File and environment reads for WSL detection (injected for tests); the real system by default. */
  probe?: EnvironmentProbe;
}

function waitForSpawn(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(err));
  });
}

/**
 * The desktop's own opener when $BROWSER is unset (macOS and the other Unixes): /usr/bin/open or
 * xdg-open, the URL as one argument. Spawned here rather than through the `open` package so that
 * it gets the minimal environment (the package always passes the bridge's whole environment on).
 */
export function desktopOpenArgv(href: string, platform: NodeJS.Platform): [string, ...string[]] {
  return platform === 'darwin' ? ['/usr/bin/open', href] : ['xdg-open', href];
}

/** Build deps.openBrowser: validate, always print the URL to stderr, then try to open it. */
export function createBrowserOpener(opts: BrowserOpenerOptions): (url: string) => Promise<void> {
  const spawn = opts.spawn ?? (nodeSpawn as SpawnFn);
  return async (raw: string): Promise<void> => {
    const url = validateBrowserUrl(raw, { allowHttp: opts.allowHttp });
    const href = url.href;
    opts.log.say(`Open this URL in your browser to sign in:\n\n  ${href}\n`);
    if (opts.noBrowser) return;
    const browserEnv = opts.env.BROWSER;
    let argv = browserEnv ? browserArgv(browserEnv, href) : undefined;
    const platform = opts.platform ?? process.platform;
    if (!argv && platform === 'win32') argv = windowsOpenArgv(href, opts.env);
    if (!argv && platform === 'linux') {
      // WSL: the Windows default browser, through rundll32 with the URL as one argv element (no shell, no wslview/cmd.exe).
      const probe = opts.probe ?? systemEnvironmentProbe(opts.env, platform);
      if (detectWsl(probe)) argv = wslOpenArgv(href, probe);
    }
    if (!argv && opts.openUrl) return opts.openUrl(href);
    const [command, ...args] = argv ?? desktopOpenArgv(href, platform);
    // Only what a desktop browser needs: never the bridge's environment, which may hold client secrets.
    const env = browserEnvironment(opts.env);
    const child = spawn(command, args, { detached: true, stdio: 'ignore', shell: false, windowsHide: true, env });
    await waitForSpawn(child);
    child.unref();
  };
}

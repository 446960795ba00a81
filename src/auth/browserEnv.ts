/**
 * The environment a browser opener ($BROWSER, xdg-open, open, rundll32) is started with. Pure.
 *
 * Never the bridge's own environment: an IDE starts the bridge with client secrets, bearer tokens
 * and header values in it (--client-secret-env, --bearer-env, --header-env), and a browser, or a
 * helper script named in $BROWSER, has no business reading them. Only what a desktop needs to find
 * and show a browser goes through, plus the variables the user names in MCP_KEYBRIDGE_BROWSER_ENV.
 */

/** The variable listing extra names to pass to the opener (comma- or whitespace-separated names, no values). */
export const BROWSER_ENV_LIST_VAR = 'MCP_KEYBRIDGE_BROWSER_ENV';

/** Exact names (compared case-insensitively: Windows environment names are). */
const PASSED_NAMES = new Set(
  [
    // Finding programs and the user's home.
    'PATH',
    'PATHEXT',
    'HOME',
    'USER',
    'LOGNAME',
    'SHELL',
    'TMPDIR',
    'TMP',
    'TEMP',
    'TZ',
    'LANG',
    'LANGUAGE',
    // X11 / Wayland / D-Bus: how a Linux desktop browser reaches the user's session.
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'XAUTHORITY',
    'DBUS_SESSION_BUS_ADDRESS',
    'DESKTOP_SESSION',
    'KDE_FULL_SESSION',
    'KDE_SESSION_VERSION',
    'GNOME_DESKTOP_SESSION_ID',
    // The opener itself (xdg-open honours $BROWSER too).
    'BROWSER',
    // Windows and WSL.
    'SYSTEMROOT',
    'WINDIR',
    'SYSTEMDRIVE',
    'COMSPEC',
    'USERPROFILE',
    'APPDATA',
    'LOCALAPPDATA',
    'PROGRAMDATA',
    'PROGRAMFILES',
    'PROGRAMFILES(X86)',
    'WSL_DISTRO_NAME',
    'WSL_INTEROP',
    'WSLENV',
  ].map((n) => n.toUpperCase()),
);

/** Name prefixes passed through: locale (LC_*) and XDG base directories / session (XDG_*). */
const PASSED_PREFIXES = ['LC_', 'XDG_'];

/** A variable name as a shell would accept it; anything else in the list is ignored. */
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The names MCP_KEYBRIDGE_BROWSER_ENV asks for (upper-cased), ignoring anything that is not a plain name. */
export function extraBrowserEnvNames(list: string | undefined): Set<string> {
  const names = new Set<string>();
  for (const part of (list ?? '').split(/[\s,]+/)) {
    if (VALID_NAME.test(part)) names.add(part.toUpperCase());
  }
  return names;
}

/**
 * The environment for the browser opener: the desktop variables above, plus those named in
 * MCP_KEYBRIDGE_BROWSER_ENV (how the lab's scripted browser gets LAB_BROWSER_LOG and friends, and
 * how a user passes e.g. a proxy setting to a $BROWSER script). Everything else is left out.
 */
export function browserEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const extra = extraBrowserEnvNames(env[BROWSER_ENV_LIST_VAR]);
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const upper = name.toUpperCase();
    if (PASSED_NAMES.has(upper) || extra.has(upper) || PASSED_PREFIXES.some((p) => upper.startsWith(p))) out[name] = value;
  }
  return out;
}

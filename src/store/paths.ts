import { mkdir, stat, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { StoreUnavailableError } from '../errors.js';

const TOOL_DIR_NAME = 'mcp-keybridge';

/**
 * The tool's config directory: $MCP_KEYBRIDGE_HOME when set, else the platform's per-user config
 * location (XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support on macOS, %APPDATA%
 * on Windows). Paths are built with the target platform's separator so they can be computed for
 * another platform in tests.
 */
export function configDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, homeDir: string = homedir()): string {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const override = env.MCP_KEYBRIDGE_HOME;
  if (override !== undefined && override !== '') return p.resolve(override);
  if (platform === 'win32') {
    const appData = env.APPDATA !== undefined && env.APPDATA !== '' ? env.APPDATA : p.join(homeDir, 'AppData', 'Roaming');
    return p.join(appData, TOOL_DIR_NAME);
  }
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homeDir;
  if (platform === 'darwin') return p.join(home, 'Library', 'Application Support', TOOL_DIR_NAME);
  // XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && p.isAbsolute(xdg) ? xdg : p.join(home, '.config');
  return p.join(base, TOOL_DIR_NAME);
}

/**
 * Where bin/compileCache.js keeps V8's bytecode of the bundle's entry (Node 20): <MCP_KEYBRIDGE_HOME>/compile-cache
 * when set, else the platform's per-user cache folder (XDG_CACHE_HOME or ~/.cache on Linux,
 * ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows). The bin computes it itself, before any of
 * this code is loaded; a unit test holds the two rules together.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, homeDir: string = homedir()): string {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const override = env.MCP_KEYBRIDGE_HOME;
  if (override !== undefined && override !== '') return p.resolve(override, 'compile-cache');
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA !== undefined && env.LOCALAPPDATA !== '' ? env.LOCALAPPDATA : p.join(homeDir, 'AppData', 'Local');
    return p.join(local, TOOL_DIR_NAME, 'compile-cache');
  }
  // A relative HOME is no place for code to be loaded from: the user's home directory then.
  const home = env.HOME !== undefined && p.isAbsolute(env.HOME) ? env.HOME : homeDir;
  if (platform === 'darwin') return p.join(home, 'Library', 'Caches', TOOL_DIR_NAME, 'compile-cache');
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' && p.isAbsolute(xdg) ? xdg : p.join(home, '.cache');
  return p.join(base, TOOL_DIR_NAME, 'compile-cache');
}

/** Where cross-process lock files live: <configDir>/locks. */
export function lockDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, homeDir: string = homedir()): string {
  const p = platform === 'win32' ? path.win32 : path.posix;
  return p.join(configDir(env, platform, homeDir), 'locks');
}

/** True where POSIX permission bits mean something (not on Windows). */
export function hasPosixModes(platform: NodeJS.Platform = process.platform): boolean {
  return platform !== 'win32';
}

/**
 * Create `dir` (and missing parents) with mode 0700 and make sure an existing one is not readable
 * by group/others and belongs to this user. Throws StoreUnavailableError with the errno explained.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!hasPosixModes()) return;
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new StoreUnavailableError(`${dir} exists but is not a directory; move it away and retry.`, 'store_unavailable');
    }
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid) {
      throw new StoreUnavailableError(
        `${dir} belongs to another user (uid ${info.uid}); refusing to keep tokens there. Fix its owner or set MCP_KEYBRIDGE_HOME.`,
        'store_insecure',
      );
    }
    // mkdir's mode is filtered by the umask and is not applied to a directory that already exists.
    if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw fileSystemFailure(`create the directory ${dir}`, error);
  }
}

/** Map a file-system errno to a StoreUnavailableError whose message says what to do. */
export function fileSystemFailure(action: string, error: unknown): StoreUnavailableError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreUnavailableError(`Could not ${action}: the disk is full (${errno}). Free some space and retry; existing tokens were left untouched.`, 'store_no_space', error);
    case 'EROFS':
      return new StoreUnavailableError(`Could not ${action}: the file system is read-only (EROFS). Point MCP_KEYBRIDGE_HOME at a writable directory or use --token-store keychain.`, 'store_read_only', error);
    case 'EACCES':
    case 'EPERM':
      return new StoreUnavailableError(`Could not ${action}: permission denied (${errno}). Check the owner and permissions of the directory, or set MCP_KEYBRIDGE_HOME to a directory you own.`, 'store_permission_denied', error);
    default:
      return new StoreUnavailableError(`Could not ${action}: ${detail}`, 'store_unavailable', error);
  }
}

import { readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import type { AuthOptions } from '../auth/options.js';
import { canonicalServerUrl, isSessionKey, lockName } from '../auth/profile.js';
import { parseStoredSession, type StoredSession } from '../auth/tokenSet.js';
import type { Deps } from '../deps.js';
import { KeybridgeError, UsageError } from '../errors.js';
import { lockFilePath, OWN_LOCK_FILE_NAME } from '../store/crossProcessLock.js';
import { TOKEN_FILE_NAME } from '../store/fileStore.js';
import { compileCacheDir, configDir, lockDir } from '../store/paths.js';
import type { StoreKind, TokenStore } from '../store/tokenStore.js';
import { withProfileLock } from './logoutCommand.js';
import { addProfileOptions, toAuthOptions, type RawProfileFlags } from './profileOptions.js';
import { parseServerUrl } from './serverUrl.js';
import { openAuthSession, openTokenStore } from './sessionFactory.js';

/** How long the confirmation prompt waits for an answer. */
const CONFIRM_TIMEOUT_MS = 5 * 60_000;
/** Temp files of an interrupted FileStore write. */
const TOKEN_TEMP_FILE = new RegExp(`^\\.${TOKEN_FILE_NAME.replace('.', '\\.')}\\.[0-9a-f-]+\\.tmp$`);

export interface CacheClearOptions {
  /** Only this profile's state; everything when undefined. */
  profile?: AuthOptions;
  storeKind: StoreKind;
  /** Confirmed on the command line. */
  yes: boolean;
}

/** One thing to remove, described without secrets. */
interface Removal {
  what: string;
  /** True when something was actually removed. */
  remove(): Promise<boolean>;
}

/** Remove what the tool stored (all of it, or one profile's), after confirmation. */
export async function runCacheClear(opts: CacheClearOptions, deps: Deps): Promise<number> {
  const interactive = deps.stdinIsTTY && deps.stderrIsTTY;
  if (!opts.yes && !interactive) {
    throw new UsageError('cache clear removes stored sign-ins and client registrations; not running in a terminal, so pass --yes to confirm');
  }
  const problems: string[] = [];
  const plan = opts.profile ? await planProfile(opts.profile, opts.storeKind, deps) : await planEverything(opts.storeKind, deps, problems);
  if (plan.length === 0) {
    for (const p of problems) deps.log.error(p);
    deps.log.say('Nothing to remove.');
    return problems.length ? 1 : 0;
  }
  if (!opts.yes) {
    deps.log.say(`This removes:\n${plan.map((r) => `  - ${r.what}`).join('\n')}`);
    if (!(await confirm(`Remove these ${plan.length} item(s)? [y/N] `, deps))) {
      deps.log.say('Nothing removed.');
      return 0;
    }
  }
  for (const item of plan) {
    try {
      if (await item.remove()) deps.stdout.write(`removed ${item.what}\n`);
    } catch (err) {
      problems.push(`could not remove ${item.what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const p of problems) deps.log.error(p);
  return problems.length ? 1 : 0;
}

async function confirm(question: string, deps: Deps): Promise<boolean> {
  const rl = createInterface({ input: deps.stdin, output: deps.stderr, terminal: true });
  try {
    const answer = await rl.question(question, { signal: AbortSignal.timeout(CONFIRM_TIMEOUT_MS) });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}

/** src/store/keychainIndex.ts's file name, one per keychain service. */
const KEYCHAIN_INDEX_FILE = /^keychain-[A-Za-z0-9._-]+\.keys\.json$/;
/** The compile cache's own files (bin/compileCache.js): the cache and its unfinished writes. */
const COMPILE_CACHE_FILE = /^[0-9a-f]{32}\.bin(?:\.[0-9]+-[0-9a-f]{12}\.tmp)?$/;

/** Every entry of the token store, the token file, the keychain index and lock files under the config dir: only names this tool writes. */
async function planEverything(storeKind: StoreKind, deps: Deps, problems: string[]): Promise<Removal[]> {
  const plan: Removal[] = [];
  const dir = configDir(deps.env, deps.platform, deps.homeDir);
  if (storeKind === 'keychain') {
    try {
      const store = await openTokenStore('keychain', deps);
      plan.push(...(await store.list()).map((key) => storeEntry(store, key, 'keychain entry')));
    } catch (err) {
      problems.push(`the keychain was left alone: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const names = await listDir(dir);
  if (names.includes(TOKEN_FILE_NAME)) {
    const tokenFile = path.join(dir, TOKEN_FILE_NAME);
    try {
      const store = await openTokenStore('file', deps);
      plan.push(...(await store.list()).map((key) => storeEntry(store, key, 'token file entry')));
    } catch (err) {
      // A corrupt file cannot be listed; removing the file below still clears it.
      if (!(err instanceof KeybridgeError)) throw err;
    }
    plan.push(fileRemoval(tokenFile, `token file ${tokenFile}`));
  }
  for (const name of names.filter((n) => TOKEN_TEMP_FILE.test(n))) plan.push(fileRemoval(path.join(dir, name), `unfinished token file write ${path.join(dir, name)}`));
  // The keychain key-name index (names only, a start-up hint): after the entries it names.
  for (const name of names.filter((n) => KEYCHAIN_INDEX_FILE.test(n))) plan.push(fileRemoval(path.join(dir, name), `keychain key-name index ${path.join(dir, name)}`));
  // The bridge's compile cache (bin/compileCache.js, Node 20): bytecode of our own code, no secret,
  // but something the tool stored. Its own file names only.
  const compiled = compileCacheDir(deps.env, deps.platform, deps.homeDir);
  const compiledFiles = (await listDir(compiled)).filter((n) => COMPILE_CACHE_FILE.test(n));
  if (compiledFiles.length > 0) plan.push(filesInFolderRemoval(compiled, compiledFiles, `${compiledFiles.length} compile cache file(s) in ${compiled}`));
  // Lock files last: removing token file entries above takes the file store's lock.
  const locks = lockDir(deps.env, deps.platform, deps.homeDir);
  const lockFiles = (await listDir(locks)).filter((n) => OWN_LOCK_FILE_NAME.test(n));
  if (lockFiles.length === 0) {
    // An empty lock directory is not worth a line or a question; it goes if something else does.
    if (plan.length > 0) plan.push({ what: `lock directory ${locks}`, remove: async () => (await rmdir(locks).catch(() => undefined), false) });
  } else {
    plan.push(filesInFolderRemoval(locks, lockFiles, `${lockFiles.length} lock file(s) in ${locks}`));
  }
  return plan;
}

/** One profile: its session, the client registration no other stored session uses, its lock files. */
async function planProfile(auth: AuthOptions, storeKind: StoreKind, deps: Deps): Promise<Removal[]> {
  const { session, store } = await openAuthSession({ ...auth, interactive: false }, storeKind, deps);
  const key = session.key;
  const plan: Removal[] = [];
  const keys = await store.list();
  let record: StoredSession | undefined;
  if (keys.includes(key)) {
    record = await readSession(store, key);
    const entry = storeEntry(store, key, `${store.kind === 'keychain' ? 'keychain entry' : 'stored session'}`);
    // Under the profile's refresh lock, so a concurrent refresh cannot write it back.
    plan.push({ what: entry.what, remove: () => withProfileLock(key, deps, entry.remove) });
  }
  if (record && record.clientSource === 'dynamic') {
    const otherUsers = await Promise.all(keys.filter((k) => isSessionKey(k) && k !== key).map((k) => readSession(store, k)));
    const shared = otherUsers.some((s) => s?.issuer === record.issuer && s.clientId === record.clientId);
    if (!shared) {
      for (const k of keys.filter((k) => k.startsWith('client:'))) {
        const reg = (await store.get(k).catch(() => undefined)) as { issuer?: unknown; clientId?: unknown } | undefined;
        if (reg?.issuer === record.issuer && reg.clientId === record.clientId) plan.push(storeEntry(store, k, 'client registration'));
      }
    }
  }
  const locks = lockDir(deps.env, deps.platform, deps.homeDir);
  const present = new Set(await listDir(locks));
  for (const purpose of ['signin', 'refresh'] as const) {
    const file = lockFilePath(locks, lockName(purpose, key));
    if (present.has(path.basename(file))) plan.push(fileRemoval(file, `${purpose} lock file ${file}`));
  }
  if (plan.length === 0) deps.log.info(`no stored state for ${canonicalServerUrl(auth.serverUrl)} in ${store.location}`);
  return plan;
}

async function readSession(store: TokenStore, key: string): Promise<StoredSession | undefined> {
  try {
    return parseStoredSession(await store.get(key));
  } catch (err) {
    if (err instanceof KeybridgeError) return undefined; // corrupt: still removable by key
    throw err;
  }
}

function storeEntry(store: TokenStore, key: string, kind: string): Removal {
  const where = store.kind === 'keychain' ? store.location : '';
  return { what: `${kind} ${key}${where ? ` (${where})` : ''}`, remove: () => store.delete(key) };
}

/** These files of ours in dir, then dir itself if nothing else is left in it. */
function filesInFolderRemoval(dir: string, names: string[], what: string): Removal {
  return {
    what,
    remove: async () => {
      for (const name of names) await unlink(path.join(dir, name)).catch(ignoreMissing);
      await rmdir(dir).catch(() => undefined);
      return true;
    },
  };
}

function fileRemoval(file: string, what: string): Removal {
  return {
    what,
    remove: async () => {
      try {
        await unlink(file);
        return true;
      } catch (err) {
        ignoreMissing(err);
        return false;
      }
    },
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    ignoreMissing(err);
    return [];
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

interface RawCacheClearFlags extends RawProfileFlags {
  yes?: boolean;
}

/** `cache clear [url]`: flag wiring only. */
export function cacheCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const clear = new Command('clear')
    .description("remove everything mcp-keybridge stored (or one gateway profile's state)")
    .argument('[url]', "only this gateway profile's session, its client registration (if no other session uses it) and lock files")
    .option('-y, --yes', 'do not ask for confirmation (required when not in a terminal)')
    .option('--allow-http', 'allow a plain-http gateway URL that is not on loopback')
    .option('--debug', 'more detail on stderr (secrets are always masked)');
  addProfileOptions(clear);
  clear.addHelpText(
    'after',
    `
Examples:
  $ mcp-keybridge cache clear                       # asks before removing everything
  $ mcp-keybridge cache clear --yes                 # in scripts
  $ mcp-keybridge cache clear https://gateway.example.com/mcp --yes

Without a URL this removes every keychain entry of the service "mcp-keybridge" (sessions and client
registrations, as the keychain lists them), the token file and the lock files in the config
directory (only files of the names mcp-keybridge writes; anything else there is left alone). With --token-store file the keychain is left alone. Entries of other programs are never
touched. Nothing is revoked at the identity provider: use \`mcp-keybridge revoke <url>\` first for that.`,
  );
  clear.action(async (url: string | undefined, raw: RawCacheClearFlags) => {
    let profile: AuthOptions | undefined;
    if (url !== undefined) {
      const serverUrl = parseServerUrl(url, { allowHttp: raw.allowHttp === true });
      profile = toAuthOptions(serverUrl, raw, deps.env, false).auth;
    }
    setExitCode(await runCacheClear({ profile, storeKind: raw.tokenStore, yes: raw.yes === true }, deps));
  });
  return new Command('cache').description("manage what mcp-keybridge keeps on this machine").addCommand(clear);
}

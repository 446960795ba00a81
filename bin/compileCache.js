'use strict';
// V8's code cache for the bundle's entry on a Node without module.enableCompileCache (Node 20):
// the entry is compiled with the bytecode an earlier run saved, instead of from source. Measured on
// Node 20 (2 cores): spawn -> initialize result 110-123 ms -> 86-102 ms, `node -e 0` 61-68 ms.
//
// The cache is per user ($MCP_KEYBRIDGE_HOME/compile-cache, else the platform's per-user cache
// folder), bridge runs only, one file per bundle content, Node version and architecture (the name
// is a hash of the three; V8 itself also refuses data made by another V8 or with other flags, and
// the file is then written again). A file that is a link, not this user's, or fails its checksum
// is not used, nor a folder others can write to. Anything that goes wrong with the cache only means
// compiling from source, as without it; nothing is printed. NODE_DISABLE_COMPILE_CACHE (Node's own
// switch for its cache) turns it off.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { createHash, randomBytes } = require('node:crypto');
const { isAscii } = require('node:buffer');

/** A bridge has served its first requests by then, so their functions are in the saved bytecode. */
const WRITE_AFTER_MS = 2_000;
/**
 * A cache file: one byte saying how it was made, the SHA-256 of the rest, then V8's data as V8
 * made it. Made at the exit of a short run (a bridge that lived less than WRITE_AFTER_MS: an IDE
 * that only listed the tools), or by a run that got that far; a long run that found only a short
 * run's cache writes its fuller one. The checksum is ours: release V8 does not check its payload,
 * so a damaged byte inside it would otherwise run.
 */
const SHORT = 0;
const FULL = 1;
const HEADER_BYTES = 1 + 32;
/** Cache files kept (other bundle versions or Node versions used side by side). */
const KEEP_FILES = 4;
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Only the bridge is cached: it is what IDEs start again and again, and a command (`login`,
 * `cache clear`, ...) would leave a file of its own (`cache clear` one right after removing them).
 * A bridge run names a URL and no command: the rule of src/cli/program.ts isBridgeOnly, which
 * cannot be loaded before the bundle (a unit test holds the two together).
 */
const COMMANDS = new Set(['login', 'logout', 'revoke', 'status', 'token', 'cache', 'config', 'doctor', 'completion', 'help', '--help', '-h']);
function isBridgeRun(argv) {
  const args = argv.slice(2);
  return args.some((a) => a.includes('://')) && !args.some((a) => COMMANDS.has(a));
}
exports.isBridgeRun = isBridgeRun;

/** The cache folder; src/store/paths.ts compileCacheDir is the same rule (a unit test holds them together). */
function cacheDir(env, platform = process.platform, homeDir = os.homedir()) {
  const p = platform === 'win32' ? path.win32 : path.posix;
  if (env.MCP_KEYBRIDGE_HOME) return p.resolve(env.MCP_KEYBRIDGE_HOME, 'compile-cache');
  if (platform === 'win32') return p.join(env.LOCALAPPDATA || p.join(homeDir, 'AppData', 'Local'), 'mcp-keybridge', 'compile-cache');
  const home = env.HOME && p.isAbsolute(env.HOME) ? env.HOME : homeDir;
  if (platform === 'darwin') return p.join(home, 'Library', 'Caches', 'mcp-keybridge', 'compile-cache');
  const xdg = env.XDG_CACHE_HOME;
  return p.join(xdg && p.isAbsolute(xdg) ? xdg : p.join(home, '.cache'), 'mcp-keybridge', 'compile-cache');
}
exports.cacheDir = cacheDir;

/**
 * The folder when it is this user's own, not a symbolic link, and writable by no one else; else
 * undefined (then no cache is read or written: a folder others can change is no place for code).
 */
function privateDir(dir, create) {
  try {
    if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const info = fs.lstatSync(dir);
    if (!info.isDirectory()) return undefined;
    if (typeof process.geteuid === 'function' && (info.uid !== process.geteuid() || (info.mode & 0o022) !== 0)) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/** O_NOFOLLOW where the platform has it: a cache file that is a symbolic link is not opened. */
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** The file's bytes when it is a regular file of this user's and of a sane size; else undefined. */
function readOwn(file) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
    const info = fs.fstatSync(fd);
    if (!info.isFile() || info.size === 0 || info.size > MAX_CACHE_BYTES) return undefined;
    if (typeof process.geteuid === 'function' && info.uid !== process.geteuid()) return undefined;
    const data = Buffer.allocUnsafe(info.size);
    return fs.readSync(fd, data, 0, info.size, 0) === info.size ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(file, script, kind) {
  const dir = privateDir(path.dirname(file), true);
  if (dir === undefined) return;
  // A fresh name no one can have placed a link under (O_EXCL), renamed over the old file.
  const tmp = `${file}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  try {
    const data = script.createCachedData();
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from([kind]), createHash('sha256').update(data).digest(), data]), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
    const entries = fs.readdirSync(dir).map((n) => ({ n, t: fs.lstatSync(path.join(dir, n)).mtimeMs }));
    // Leftovers of a write that died (a full disk, a kill) after an hour; old versions past KEEP_FILES.
    for (const { n, t } of entries) if (n.endsWith('.tmp') && Date.now() - t > 3_600_000) fs.rmSync(path.join(dir, n), { force: true });
    const caches = entries.filter(({ n }) => n.endsWith('.bin')).sort((a, b) => b.t - a.t);
    for (const { n } of caches.slice(KEEP_FILES)) fs.rmSync(path.join(dir, n), { force: true });
  } catch {
    // A cache that cannot be written is a start compiled from source next time too.
    fs.rmSync(tmp, { force: true });
  }
}

const WRAP_HEAD = Buffer.from('(function (exports, require, module, __filename, __dirname) { ');
const WRAP_TAIL = Buffer.from('\n});');

/** Load the CommonJS file `file` as require() would, compiled with the saved bytecode when there is some. */
exports.load = function load(file) {
  // Bytes, not a string: the wrapped source below is made from them in one piece, so no second
  // copy of a 270 KB string is left for a major collection to free.
  const bytes = fs.readFileSync(file);
  let cacheFile;
  let cached;
  let madeBy;
  if (process.env.NODE_DISABLE_COMPILE_CACHE === undefined && isBridgeRun(process.argv)) {
    try {
      const key = createHash('sha256').update(bytes).update(`\0${process.version}\0${process.arch}`).digest('hex').slice(0, 32);
      const dir = cacheDir(process.env);
      cacheFile = path.join(dir, `${key}.bin`);
      const data = privateDir(dir, false) === undefined ? undefined : readOwn(cacheFile);
      if (data !== undefined && (data[0] === SHORT || data[0] === FULL) && data.length > HEADER_BYTES) {
        const payload = data.subarray(HEADER_BYTES);
        if (createHash('sha256').update(payload).digest().equals(data.subarray(1, HEADER_BYTES))) {
          madeBy = data[0];
          cached = payload;
        }
      }
    } catch {
      cacheFile = undefined;
    }
  }
  // The wrapper require() puts around a CommonJS file, on its first line (positions in stack traces stay right).
  const whole = Buffer.concat([WRAP_HEAD, bytes, WRAP_TAIL]);
  const wrapped = isAscii(whole) ? whole.toString('latin1') : whole.toString('utf8');
  const script = new vm.Script(wrapped, { filename: file, cachedData: cached });
  const mod = new Module(file, module);
  mod.filename = file;
  require.cache[file] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  if (cacheFile !== undefined) {
    const missing = cached === undefined || script.cachedDataRejected;
    cached = undefined;
    let written = false;
    if (missing) {
      process.once('exit', () => {
        if (!written) writeCache(cacheFile, script, SHORT);
      });
    }
    if (missing || madeBy === SHORT) {
      setTimeout(() => {
        written = true;
        writeCache(cacheFile, script, FULL);
      }, WRITE_AFTER_MS).unref();
    }
  }
  return mod.exports;
};

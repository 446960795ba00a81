'use strict';
// V8's code cache for the bundle's entry on a Node without module.enableCompileCache (Node 20):
// the entry is compiled with the bytecode an earlier run saved, instead of from source. Measured on
// Node 20 (2 cores): spawn -> initialize result 115-123 ms -> 95-102 ms, `node -e 0` being 64 ms.
//
// The cache is per user ($MCP_KEYBRIDGE_HOME/compile-cache, else the platform's per-user cache
// folder), one file per bundle content, Node version, architecture and kind of run (the name is a
// hash of the four; V8 itself also refuses data made by another V8 or with other flags, and the file is then
// written again). A file not owned by this user, or not a regular file, is not read. Anything that
// goes wrong with the cache only means compiling from source, as without it; nothing is printed.
// NODE_DISABLE_COMPILE_CACHE (Node's own switch for its cache) turns it off.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { createHash } = require('node:crypto');
const { isAscii } = require('node:buffer');

/** A bridge has served its first requests by then, so their functions are in the saved bytecode. */
const WRITE_AFTER_MS = 2_000;
/**
 * The first byte of a cache file says how it was made: at the exit of a short run (a command, or
 * a bridge that lived less than WRITE_AFTER_MS), or by a run that got that far. A long run that
 * found only a short run's cache writes its fuller one; the rest is V8's data as it made it.
 */
const SHORT = 0;
const FULL = 1;
/** Cache files kept (the bridge and commands, other bundle versions or Node versions side by side). */
const KEEP_FILES = 8;
const MAX_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * What this run is, for the cache key: the bytecode saved is what one run compiled, so `login`'s
 * would serve a bridge poorly (V8 takes it, and compiles the rest from source). The first word that
 * is not an option: a URL or `serve` is the bridge, a plain word is that command.
 */
function runKind(argv) {
  const word = argv.slice(2).find((a) => !a.startsWith('-'));
  if (word === undefined) return 'options'; // --version, --help
  if (word === 'serve' || word.includes('://')) return 'bridge';
  return /^[a-z]{1,20}$/.test(word) ? word : 'other';
}

function cacheDir(env) {
  if (env.MCP_KEYBRIDGE_HOME) return path.resolve(env.MCP_KEYBRIDGE_HOME, 'compile-cache');
  const home = env.HOME || os.homedir();
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'mcp-keybridge', 'compile-cache');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'mcp-keybridge', 'compile-cache');
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.cache'), 'mcp-keybridge', 'compile-cache');
}

/** The file's bytes when it is a regular file of this user's and of a sane size; else undefined. */
function readOwn(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const info = fs.fstatSync(fd);
    if (!info.isFile() || info.size === 0 || info.size > MAX_CACHE_BYTES) return undefined;
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) return undefined;
    const data = Buffer.allocUnsafe(info.size);
    return fs.readSync(fd, data, 0, info.size, 0) === info.size ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(file, script, kind) {
  try {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from([kind]), script.createCachedData()]), { mode: 0o600 });
    fs.renameSync(tmp, file);
    const others = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.bin'))
      .map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of others.slice(KEEP_FILES)) fs.rmSync(path.join(dir, n), { force: true });
  } catch {
    // A cache that cannot be written is a start compiled from source next time too.
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
  if (process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
    try {
      const key = createHash('sha256').update(bytes).update(`\0${process.version}\0${process.arch}\0${runKind(process.argv)}`).digest('hex').slice(0, 32);
      cacheFile = path.join(cacheDir(process.env), `${key}.bin`);
      const data = readOwn(cacheFile);
      if (data !== undefined && (data[0] === SHORT || data[0] === FULL)) {
        madeBy = data[0];
        cached = data.subarray(1);
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

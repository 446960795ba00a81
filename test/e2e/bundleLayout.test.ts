import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './harness/labFleet.js';

/**
 * The bundle's CommonJS layout (scripts/bundleCommonJs.mjs): the chunks the start path needs are
 * inlined into the entry, and their files stay on disk for the chunks loaded later. What can go
 * wrong is a second copy of a module (an error class no longer `instanceof` itself across chunks)
 * or a start that reads more files than the entry. Checked in a fresh node process on the built
 * bundle, as the CLI loads it.
 */

const run = promisify(execFile);
const BUNDLE = path.join(REPO_ROOT, 'dist', 'bundle');

/** Runs in the child: load the entry (without running main), report what it registered, then load chunks by path. */
const PROBE = `
const path = require('node:path');
const bundle = process.argv[1];
const fs = require('node:fs');
const read = [];
const readFileSync = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (typeof file === 'string' && file.endsWith('.js')) read.push(file);
  return readFileSync.call(this, file, ...rest);
};
const before = new Set(Object.keys(require.cache));
// 'vm': as bin/mcp-keybridge.js loads it on a Node without enableCompileCache (compileCache.js, vm.Script).
const entryFile = fs.realpathSync.native(path.join(bundle, 'mcp-keybridge.js'));
const entry = process.argv[2] === 'vm' ? require(path.join(bundle, '..', '..', 'bin', 'compileCache.js')).load(entryFile) : require(entryFile);
const registered = Object.keys(require.cache).filter((f) => !before.has(f) && f.startsWith(bundle));
const readAtStart = read.filter((f) => !f.endsWith('compileCache.js')).map((f) => path.relative(bundle, f));
// Which registered module exports the error class every command's failures are (KeybridgeError)?
const errorsFile = registered.find((f) => require.cache[f].exports.KeybridgeError);
const KeybridgeError = errorsFile && require.cache[errorsFile].exports.KeybridgeError;
// Every registered chunk required again by its path: the same exports object, not a second copy.
const sameOnRequire = registered.every((f) => require(f) === require.cache[f].exports);
// A chunk loaded later (a command's) requires inlined chunks from disk: it must get those same modules.
const lazy = require('node:fs').readdirSync(path.join(bundle, 'chunks')).find((n) => n.startsWith('loginCommand-'));
const login = require(path.join(bundle, 'chunks', lazy));
const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
const duplicates = loaded.filter((f) => f !== errorsFile && require.cache[f].exports.KeybridgeError && require.cache[f].exports.KeybridgeError !== KeybridgeError);
process.stdout.write(JSON.stringify({
  mainIsFunction: typeof entry.main === 'function',
  registered: registered.map((f) => path.relative(bundle, f)),
  readAtStart,
  errorsFile: errorsFile && path.relative(bundle, errorsFile),
  sameOnRequire,
  loginCommand: typeof login.loginCommand,
  duplicates: duplicates.map((f) => path.relative(bundle, f)),
}));
`;

describe('the bundle as the CLI loads it', () => {
  it.each(['require', 'vm'])('inlines the start chunks into the entry, keeps one copy of every module, and later chunks share them (loaded by %s)', async (how) => {
    const { stdout } = await run(process.execPath, ['-e', PROBE, BUNDLE, how], { cwd: REPO_ROOT });
    const r = JSON.parse(stdout) as {
      mainIsFunction: boolean;
      registered: string[];
      readAtStart: string[];
      errorsFile?: string;
      sameOnRequire: boolean;
      loginCommand: string;
      duplicates: string[];
    };
    expect(r.mainIsFunction).toBe(true);
    // Loading the entry reads one JavaScript file: itself.
    expect(r.readAtStart).toEqual(['mcp-keybridge.js']);
    // The entry plus the chunks it inlined, each registered under its own file, which exists.
    expect(r.registered[0]).toBe('mcp-keybridge.js');
    const chunkFiles = new Set((await readdir(path.join(BUNDLE, 'chunks'))).map((n) => `chunks/${n}`));
    const inlined = r.registered.slice(1);
    expect(inlined.length).toBeGreaterThan(3);
    for (const rel of inlined) expect(chunkFiles.has(rel)).toBe(true);
    // No command chunk is on the start path.
    expect(inlined.filter((f) => /Command-/.test(f))).toEqual([]);
    expect(r.errorsFile).toMatch(/^chunks\//);
    expect(r.sameOnRequire).toBe(true);
    expect(r.loginCommand).toBe('function');
    expect(r.duplicates).toEqual([]);
  });
});

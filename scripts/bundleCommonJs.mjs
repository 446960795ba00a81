// The second step of scripts/bundle.mjs: esbuild's split ESM output made CommonJS, with the start
// path in one file.
//
// Why (measured on Node 20, the bridge's peak RSS after start + one call, scripts/bench rss phase):
// - ESM files go through Node's ESM loader; CommonJS does not (the bundle once was ESM: 52.1 MiB).
// - Each file require() loads costs a resolution (path.resolve, stat, realpath): ~115 path calls for
//   the start path's 17 files, enough to make V8 optimise path's normalizeString with TurboFan
//   during start, which pages in ~3.4 MiB of node's own code (51.3 MiB with 17 CommonJS files,
//   ~48 with one). So the chunks the entry imports statically are inlined into it.
//
// Module identity is kept: every module is evaluated once. An inlined chunk still has its file on
// disk (a chunk loaded later may require it); the entry registers each inlined chunk in require's
// cache under that file's name before evaluating it, so such a require gets the same exports
// instead of a second copy (instanceof across chunks holds).
import { transform } from 'esbuild';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Every .js file under dir from ESM to CommonJS in place (the same names, so import paths stay
 * right), the entry's static chunks inlined into it, and a package.json marking the folder
 * CommonJS. `import.meta.url` (openStore's createRequire for the keyring addon) becomes the file's
 * own URL. A construct CommonJS cannot express (top-level await) fails the build. root: esbuild's
 * absWorkingDir, which the metafile's paths are relative to.
 */
export async function toCommonJs(dir, entryName, metafile, root) {
  const code = new Map();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    code.set(path.relative(dir, file).split(path.sep).join('/'), await commonJsOf(file));
  }
  for (const [rel, text] of code) if (rel !== entryName) await writeFile(path.join(dir, rel), text);
  const startChunks = staticChunks(dir, entryName, metafile, root);
  await writeFile(path.join(dir, entryName), inlinedEntry(code, entryName, startChunks));
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
}

async function commonJsOf(file) {
  const esm = await readFile(file, 'utf8');
  const usesMeta = esm.includes('import.meta');
  const out = await transform(esm, {
    format: 'cjs',
    platform: 'node',
    target: 'node20.18',
    sourcefile: file,
    // import() becomes a require in a promise (esbuild's own lowering, token-aware): left as import(),
    // Node would resolve it against the file the code sits in (for an inlined chunk: the entry, one
    // folder up) and load it through the ESM loader.
    supported: { 'dynamic-import': false },
    define: usesMeta ? { 'import.meta.url': '__kbFileUrl' } : undefined,
    // ESM is strict; the same code as CommonJS is strict only when it says so (a chunk loaded from
    // disk, not inlined into the entry, would otherwise run sloppy).
    banner: `"use strict";${usesMeta ? 'const __kbFileUrl = require("node:url").pathToFileURL(__filename).href;' : ''}`,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    logLevel: 'error',
  });
  if (out.warnings.length > 0) throw new Error(`${file}: ${out.warnings.map((w) => w.text).join('; ')}`);
  return out.code;
}

/** The chunks (paths relative to dir) the entry reaches through static imports, dependencies first. */
function staticChunks(dir, entryName, metafile, root) {
  const outputs = metafile.outputs;
  // esbuild's metafile paths are relative to its absWorkingDir (root).
  const key = (rel) => Object.keys(outputs).find((k) => path.resolve(root, k) === path.resolve(dir, rel));
  const order = [];
  const seen = new Set();
  const visit = (outKey) => {
    if (seen.has(outKey)) return;
    seen.add(outKey);
    for (const imp of outputs[outKey].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visit(imp.path);
    order.push(path.relative(dir, path.resolve(root, outKey)).split(path.sep).join('/'));
  };
  visit(key(entryName));
  return order.filter((rel) => rel !== entryName);
}

/**
 * The entry file: a small loader, each start chunk's CommonJS code as a function, then the entry's
 * own code. A chunk's require of another inlined chunk is answered from the loader; anything else
 * (built-ins, chunks loaded later, external packages) goes to a real require for that chunk's file.
 */
function inlinedEntry(code, entryName, startChunks) {
  const defs = startChunks.map((rel) => `${JSON.stringify(rel)}:(function(exports,require,module,__filename,__dirname){${code.get(rel)}\n})`).join(',\n');
  return `"use strict";
const __kbInline = (() => {
  const Module = require("node:module");
  const { sep } = require("node:path");
  const defs = {${defs}};
  const realRequires = new Map();
  const realRequire = (filename) => {
    let r = realRequires.get(filename);
    if (!r) realRequires.set(filename, (r = filename === __filename ? require : Module.createRequire(filename)));
    return r;
  };
  // String work only, no path calls (the point of inlining): the entry imports "./chunks/x.js",
  // a chunk imports "./x.js" of its own folder; anything else goes to a real require.
  const requireFrom = (fromDir, filename) => (spec) => {
    if (spec.startsWith("./")) {
      const rel = fromDir + spec.slice(2);
      if (Object.hasOwn(defs, rel)) return load(rel);
    }
    return spec.startsWith("node:") ? require(spec) : realRequire(filename)(spec);
  };
  const load = (rel) => {
    const slash = rel.lastIndexOf("/");
    const dir = slash === -1 ? __dirname : __dirname + sep + rel.slice(0, slash).split("/").join(sep);
    const filename = dir + sep + rel.slice(slash + 1);
    const cached = require.cache[filename];
    if (cached) return cached.exports;
    const m = new Module(filename, module);
    m.filename = filename;
    require.cache[filename] = m;
    defs[rel].call(m.exports, m.exports, requireFrom(rel.slice(0, slash + 1), filename), m, filename, dir);
    m.loaded = true;
    return m.exports;
  };
  return requireFrom("", __filename);
})();
(function(require){${code.get(entryName)}
})(__kbInline);
`;
}

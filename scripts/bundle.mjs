// The CLI as users run it: tsc's output (dist/src, what the tests import) bundled by esbuild into
// dist/bundle/ — one entry holding the bridge path, and chunks for what only other commands or
// a sign-in need, loaded by their dynamic imports when used. `npm run build` runs tsc and then
// this script, every time, so the bundle is never older than dist/src; bin/mcp-keybridge.js loads
// only the bundle.
//
// esbuild splits the ESM graph into chunks (splitting needs ESM output); scripts/bundleCommonJs.mjs
// then turns the output into CommonJS and puts every chunk the start path needs into the entry file.
//
// Bundled: our code and the pure-JavaScript dependencies (commander, openid-client, jose, ora, yaml, …).
// External, resolved from node_modules at run time as before:
//   @napi-rs/keyring — a native addon that picks its .node file for the platform when loaded;
//   undici           — only with a proxy configured; large, with optional built-ins it probes at run time.
import { build } from 'esbuild';
import { toCommonJs } from './bundleCommonJs.mjs';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * commander requires node:child_process when it loads, for executable subcommands (`git-style`
 * programs it spawns), which this CLI does not have. That load (child_process, dgram, net's socket
 * lists: ~1-3 ms) is moved to the first spawn. The one line is replaced exactly, or the build
 * fails, so a commander that changes it is looked at again rather than bundled unpatched.
 */
const COMMANDER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyCommanderChildProcess = {
  name: 'lazy-commander-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (text.split(COMMANDER_CHILD_PROCESS).length !== 2) {
        throw new Error(`${path.relative(root, args.path)}: expected the line ${COMMANDER_CHILD_PROCESS} once; look at scripts/bundle.mjs's commander patch again`);
      }
      return {
        contents: text.replace(COMMANDER_CHILD_PROCESS, "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };"),
        loader: 'js',
      };
    });
  },
};
const outdir = `${root}dist/bundle`;

// Chunk names carry a content hash: clear the folder so no chunk of an earlier build is left to ship.
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'mcp-keybridge': 'dist/src/cli/main.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.18',
  chunkNames: 'chunks/[name]-[hash]',
  external: ['@napi-rs/keyring', 'undici'],
  // jsonc-parser's "main" is a UMD build that requires its own files at run time: take its ESM build.
  mainFields: ['module', 'main'],
  // No require banner: after the CommonJS pass below, esbuild's __require shim finds the module's own
  // require, which the CommonJS dependencies (commander) use for built-ins.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  plugins: [lazyCommanderChildProcess],
  metafile: true,
  logLevel: 'warning',
});

await toCommonJs(outdir, 'mcp-keybridge.js', result.metafile, root);

// What went in, by content: test/e2e/harness/bundleFreshness.ts compares it with dist/src, so a
// test never runs a bundle of other code than dist/src holds (e.g. after a bare tsc). Not shipped.
const inputs = {};
for (const file of Object.keys(result.metafile.inputs).filter((f) => f.startsWith('dist/src/')).sort()) {
  inputs[file] = createHash('sha256').update(await readFile(`${root}${file}`)).digest('hex');
}
await writeFile(`${outdir}/inputs.json`, `${JSON.stringify(inputs, null, 1)}\n`);

// --report: what the entry holds before its first dynamic import (the bridge's start), by input.
if (process.argv.includes('--report')) {
  const outputs = result.metafile.outputs;
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of outputs[file].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visit(imp.path);
  };
  visit('dist/bundle/mcp-keybridge.js');
  let total = 0;
  for (const file of seen) {
    total += outputs[file].bytes;
    console.log(`${(outputs[file].bytes / 1024).toFixed(1).padStart(7)} KiB  ${file}`);
    const inputs = Object.entries(outputs[file].inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);
    for (const [input, { bytesInOutput }] of inputs) console.log(`            ${(bytesInOutput / 1024).toFixed(1).padStart(6)} KiB  ${input}`);
  }
  console.log(`${(total / 1024).toFixed(1).padStart(7)} KiB  in the ${seen.size} esbuild outputs the start needs (inlined into the entry by bundleCommonJs.mjs: one file read at start); ${Object.keys(outputs).length} outputs in all`);
}

// The CLI as users run it: tsc's output (dist/src, what the tests import) bundled by esbuild into
// dist/bundle/ — one ESM entry holding the bridge path, and chunks for what only other commands or
// a sign-in need, loaded by their dynamic imports when used. `npm run build` runs tsc and then
// this script, every time, so the bundle is never older than dist/src; bin/mcp-keybridge.js loads
// only the bundle.
//
// Bundled: our code and the pure-JavaScript dependencies (commander, openid-client, jose, ora, yaml, …).
// External, resolved from node_modules at run time as before:
//   @napi-rs/keyring — a native addon that picks its .node file for the platform when loaded;
//   undici           — only with a proxy configured; large, with optional built-ins it probes at run time.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
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
  // CommonJS dependencies (commander) require built-ins; an ESM file has no `require` of its own.
  banner: { js: "import { createRequire as __kbCreateRequire } from 'node:module'; const require = __kbCreateRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

// What went in, by content: test/e2e/harness/bundleFreshness.ts compares it with dist/src, so a
// test never runs a bundle of other code than dist/src holds (e.g. after a bare tsc). Not shipped.
const inputs = {};
for (const file of Object.keys(result.metafile.inputs).filter((f) => f.startsWith('dist/src/')).sort()) {
  inputs[file] = createHash('sha256').update(await readFile(`${root}${file}`)).digest('hex');
}
await writeFile(`${outdir}/inputs.json`, `${JSON.stringify(inputs, null, 1)}\n`);

if (process.argv.includes('--report')) {
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    console.log(`${(out.bytes / 1024).toFixed(1).padStart(8)} KiB  ${file}`);
  }
}

#!/usr/bin/env node
'use strict';
// CommonJS (bin/package.json), like the bundle it loads: a process that never meets an ESM file
// never loads Node's ESM loader (~4 MiB of RSS and some start time on Node 20).
const Module = require('node:module');
const path = require('node:path');

// The bundle `npm run build` makes from dist/src (scripts/bundle.mjs): the bridge path in one
// file, other commands in chunks loaded when used. Never dist/src itself, so a run is never of
// code older or newer than the build.
const entry = path.join(__dirname, '..', 'dist', 'bundle', 'mcp-keybridge.js');

// V8's compile cache: Node's own where the running Node has it (22.1+), enabled before the first
// require of our code so it covers all of it; on Node 20 our own for the entry (compileCache.js).
if (typeof Module.enableCompileCache === 'function') {
  Module.enableCompileCache();
  require(entry).main();
} else {
  // The real path, as require() would register it: a chunk loaded later requires the chunks the
  // entry holds by their real paths, and must find them registered (one copy of each module).
  require('./compileCache.js').load(require('node:fs').realpathSync.native(entry)).main();
}

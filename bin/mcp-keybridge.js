#!/usr/bin/env node
'use strict';
// CommonJS (bin/package.json), like the bundle it loads: a process that never meets an ESM file
// never loads Node's ESM loader (~4 MiB of RSS and some start time on Node 20).

// V8's compile cache where the running Node has it (22.1+): later starts load the compiled code
// instead of compiling every module again. Enabled before the first require of our code, so it
// covers all of it; Node 20 has no such API and starts as before.
require('node:module').enableCompileCache?.();
// The bundle `npm run build` makes from dist/src (scripts/bundle.mjs): the bridge path in one
// file, other commands in chunks loaded when used. Never dist/src itself, so a run is never of
// code older or newer than the build.
require('../dist/bundle/mcp-keybridge.js').main();

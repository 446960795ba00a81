#!/usr/bin/env node
import module from 'node:module';

// V8's compile cache where the running Node has it (22.1+): later starts load the compiled code
// instead of compiling every module again. Enabled before the first import of our code, so it
// covers all of it; Node 20 has no such API and starts as before.
module.enableCompileCache?.();
// The bundle `npm run build` makes from dist/src (scripts/bundle.mjs): the bridge path in one
// file, other commands in chunks loaded when used. Never dist/src itself, so a run is never of
// code older or newer than the build.
const { main } = await import('../dist/bundle/mcp-keybridge.js');
main();

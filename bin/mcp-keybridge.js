#!/usr/bin/env node
import module from 'node:module';

// V8's compile cache where the running Node has it (22.1+): later starts load the compiled code
// instead of compiling every module again. Enabled before the first import of our code, so it
// covers all of it; Node 20 has no such API and starts as before.
module.enableCompileCache?.();
const { main } = await import('../dist/src/cli/main.js');
main();

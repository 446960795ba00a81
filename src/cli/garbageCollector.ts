import type { CollectGarbage, GarbageControl } from '../relay/gcPacer.js';

/**
 * V8's gc(), reached on first use without starting node with --expose-gc: the flag, set at run
 * time, exposes gc() in contexts created afterwards (the way Jest's --logHeapUsage does it).
 * node:v8 and node:vm are loaded then too, not at start (about 1 ms a bridge rarely needs).
 */
function garbageCollector(): CollectGarbage {
  let gc: ((opts?: { type: 'minor' }) => void) | undefined;
  return (kind) => {
    if (!gc) {
      process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
      gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as typeof gc;
    }
    // A major collection is gc() with no options: Node 20's V8 reads gc({ type: 'major' }) as a
    // minor one (Node 22's does not), which had left the pacer's major collections undone there.
    if (kind === 'minor') gc!({ type: 'minor' });
    else gc!();
  };
}

/** The collector and V8's count of external memory (node:v8 loaded on first use). */
export function garbageControl(): GarbageControl {
  return {
    collect: garbageCollector(),
    externalBytes: () => process.getBuiltinModule('node:v8').getHeapStatistics().external_memory,
  };
}

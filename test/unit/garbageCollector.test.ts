import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
/** The built module (npm run build), loaded in the child as the bridge loads it: compiled, not through vitest. */
const MODULE = fileURLToPath(new URL('../../dist/src/cli/garbageCollector.js', import.meta.url));

/**
 * The GC pacer's collections (src/cli/garbageCollector.ts) are the kinds asked for, on the Node
 * that runs the tests: counted from V8's own GC records (perf_hooks 'gc' entries) in a fresh
 * process started without --expose-gc, as the bridge is. Node 20 once did a minor collection
 * for gc({ type: 'major' }), so the pacer's major collections never happened there.
 */
const PROBE = `
const { PerformanceObserver, constants } = require('node:perf_hooks');
const counts = { major: 0, minor: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
    if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
  }
}).observe({ entryTypes: ['gc'] });
import(process.argv[1]).then(({ garbageControl }) => {
  const { collect, externalBytes } = garbageControl();
  if (!(externalBytes() >= 0)) throw new Error('external memory is not a count of bytes');
  const kinds = process.argv[2].split(',');
  for (const kind of kinds) collect(kind);
  setTimeout(() => process.stdout.write(JSON.stringify(counts)), 200);
});
`;

async function countsFor(kinds: string[]): Promise<{ major: number; minor: number }> {
  const { stdout } = await run(process.execPath, ['-e', PROBE, MODULE, kinds.join(',')]);
  return JSON.parse(stdout) as { major: number; minor: number };
}

describe('the garbage collector the GC pacer calls', () => {
  it('does a major collection when asked for one, and a minor one when asked for that', async () => {
    const majors = await countsFor(['major', 'major', 'major']);
    expect(majors.major).toBeGreaterThanOrEqual(3);
    const minors = await countsFor(['minor', 'minor', 'minor']);
    expect(minors.minor).toBeGreaterThanOrEqual(3);
    expect(minors.major).toBe(0);
  });
});

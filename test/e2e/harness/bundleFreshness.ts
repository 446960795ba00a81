import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The e2e tests spawn bin/mcp-keybridge.js, which runs the bundle (dist/bundle, scripts/bundle.mjs),
 * not dist/src. `npm run build` makes both, tsc first; a bare `tsc` run leaves a bundle of other
 * code than dist/src holds, and the tests would pass or fail on code that is no longer the source.
 * The bundle script records each dist/src file it took in by content (dist/bundle/inputs.json):
 * any of them now different, or gone, and the tests are refused with the fix.
 */
export function assertBundleFresh(repoRoot: string): void {
  const manifest = path.join(repoRoot, 'dist', 'bundle', 'inputs.json');
  let inputs: Record<string, string>;
  try {
    inputs = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, string>;
  } catch {
    throw new Error(`${manifest} is missing: run \`npm run build\` (tsc, then scripts/bundle.mjs) before the e2e tests`);
  }
  for (const [file, digest] of Object.entries(inputs)) {
    let now: string | undefined;
    try {
      now = createHash('sha256').update(readFileSync(path.join(repoRoot, file))).digest('hex');
    } catch {
      now = undefined;
    }
    if (now !== digest) throw new Error(`${file} is not what the bundle the CLI runs (dist/bundle) was built from: run \`npm run build\`, not tsc alone, before the e2e tests`);
  }
}

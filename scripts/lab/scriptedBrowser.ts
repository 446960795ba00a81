#!/usr/bin/env node
/**
 * A stand-in for a web browser, used as $BROWSER by end-to-end tests:
 *   node dist/scripts/lab/scriptedBrowser.js <url>
 * Appends {url, at} as one JSON line to $LAB_BROWSER_LOG (when set), then signs in as
 * $LAB_USER / $LAB_PASSWORD (presses Cancel when LAB_BROWSER_DENY=1). With LAB_BROWSER_NOOP=1
 * it only records the launch. Exit 0 on success, 1 with the reason on stderr.
 */
import { appendFileSync } from 'node:fs';
import { completeLogin } from './scriptedLogin.js';

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const url = argv[0];
  if (!url) {
    process.stderr.write('usage: scriptedBrowser <url>\n');
    return 1;
  }
  if (env.LAB_BROWSER_LOG) appendFileSync(env.LAB_BROWSER_LOG, `${JSON.stringify({ url, at: new Date().toISOString() })}\n`);
  if (env.LAB_BROWSER_NOOP === '1') return 0;
  await completeLogin(url, { username: env.LAB_USER, password: env.LAB_PASSWORD, deny: env.LAB_BROWSER_DENY === '1' });
  return 0;
}

run(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`scriptedBrowser: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
/**
 * A stand-in for a browser for the conformance scenarios, used as $BROWSER:
 *   node dist/scripts/conformance/redirectBrowser.js <authorization-url>
 * The suite's authorization servers sign the user in at once and redirect to the redirect URI;
 * this follows the redirects (at most 10, each bounded in time) until a page answers without one —
 * the bridge's loopback callback. Exit 0 when that page answered 2xx.
 */
const MAX_HOPS = 10;

async function follow(start: string): Promise<void> {
  let url = start;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    await res.arrayBuffer().catch(() => undefined);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url).href;
      continue;
    }
    if (res.status >= 400) throw new Error(`${new URL(url).origin}${new URL(url).pathname} answered ${res.status}`);
    return;
  }
  throw new Error(`more than ${MAX_HOPS} redirects`);
}

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: redirectBrowser.js <url>\n');
  process.exitCode = 2;
} else {
  follow(target).catch((error: unknown) => {
    process.stderr.write(`redirectBrowser: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}

import { tmpdir } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import type { Deps } from '../../../src/deps.js';
import { Logger } from '../../../src/log/logger.js';

/** In-process Deps for driving src/auth directly against the lab: an injectable browser and clock, a captured log. */
export interface TestDeps {
  deps: Deps;
  logText(): string;
  /** URLs the flow asked to open. */
  opened: string[];
  /** Move the injected clock. */
  advance(ms: number): void;
}

export type Browser = (url: string) => Promise<void>;

/** Deps whose openBrowser records the URL and hands it to `browser` (by default a browser that must not be needed). */
export function makeDeps(browser: Browser = async () => { throw new Error('no browser expected'); }): TestDeps {
  const lines: string[] = [];
  let offset = 0;
  const opened: string[] = [];
  const log = new Logger({ sink: { write: (s: string) => lines.push(s) }, level: 'debug' });
  const deps: Deps = {
    stdin: Readable.from([]),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stderrIsTTY: false,
    stdinIsTTY: false,
    env: {},
    clock: { now: () => Date.now() + offset },
    log,
    fetch: globalThis.fetch,
    openBrowser: async (url) => {
      opened.push(url);
      await browser(url);
    },
    homeDir: tmpdir(),
    cwd: tmpdir(),
    platform: process.platform,
    onShutdownSignal: () => () => undefined,
  };
  return { deps, logText: () => lines.join(''), opened, advance: (ms) => (offset += ms) };
}

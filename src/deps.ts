import type { Logger } from './log/logger.js';
import type { GarbageControl } from './relay/gcPacer.js';

/** A readable byte stream (process.stdin in production). */
export type ByteSource = NodeJS.ReadableStream;
/** A writable byte stream with backpressure (process.stdout in production). */
export type ByteSink = NodeJS.WritableStream;

/** A monotonic-enough wall clock; injected so tests can move time. */
export interface Clock {
  now(): number;
}

/** Everything core code may touch of the outside world. Built once in main(). */
export interface Deps {
  stdin: ByteSource;
  stdout: ByteSink;
  stderr: NodeJS.WritableStream;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  log: Logger;
  /** Fetch bound to the configured undici dispatcher (timeouts, proxy). */
  fetch: typeof globalThis.fetch;
  /** Opens a URL in the user's browser; the URL has already been validated. */
  openBrowser(url: string): Promise<void>;
  /** The user's home directory (IDE config files live under it). */
  homeDir: string;
  /** The working directory (workspace-level IDE config files live under it). */
  cwd: string;
  platform: NodeJS.Platform;
  /** The runtime's garbage collector, when reachable (the bridge paces it while large answers stream). */
  garbage?: GarbageControl;
  /** Subscribe to SIGINT/SIGTERM (and stdout closing); returns an unsubscribe function. */
  onShutdownSignal(handler: (signal: string) => void): () => void;
}

import type { ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { proxyFreeEnv } from './cliProcess.js';
import { withTimeout } from './deadline.js';
import { httpSession, stdioSession, type ClientEra, type ToolCallParams } from './sdkClients.js';

export type Mode = 'direct' | 'bridge';

/** One connected MCP client, either straight to the gateway or through a spawned bridge. */
export interface Connection {
  mode: Mode;
  /** The era of the connection's SDK client. */
  era: ClientEra;
  /** One tools/call through the connection's client. */
  callTool(params: ToolCallParams, timeoutMs: number): Promise<unknown>;
  /** Time from the start of connect() (for the bridge: the spawn) to initialize done, ms. */
  connectMs: number;
  /** The bridge's pid (undefined for direct). */
  pid?: number;
  /** Set when the bridge exited while we still used it, or with a non-zero code at close. */
  failure(): string | undefined;
  close(): Promise<void>;
}

export interface BridgeLaunch {
  /** Absolute path of bin/mcp-keybridge.js. */
  binPath: string;
  /** Flags for node itself (BENCH_BRIDGE_NODE_ARGS), e.g. --cpu-prof. */
  nodeArgs: string[];
  /** Extra CLI flags after the URL, e.g. --header. */
  bridgeArgs: string[];
  /** Extra environment for the child (e.g. LAB_TOKEN). */
  env: Record<string, string>;
}

/** The stdio ReadBuffer refuses lines over 10 MiB by default; the 10 MiB blob is a little more. */
const STDIO_MAX_LINE_BYTES = 64 * 1024 * 1024;
const STDERR_TAIL_CHARS = 4_000;

/** An SDK client of `era` over Streamable HTTP straight to the gateway: the floor. */
export async function connectDirect(url: string, headers: Record<string, string>, timeoutMs: number, era: ClientEra = '2025'): Promise<Connection> {
  const client = httpSession(era, url, headers, quietFetch);
  const t0 = performance.now();
  await withTimeout(client.connect(), timeoutMs, 'direct connect');
  const connectMs = performance.now() - t0;
  return {
    mode: 'direct',
    era,
    callTool: (params, ms) => client.callTool(params, ms),
    connectMs,
    failure: () => undefined,
    async close() {
      await client.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/**
 * Global fetch, minus a warning storm: undici's Request adds an abort listener to the transport's one
 * long-lived signal per request and removes it only when the Request is garbage-collected, so after
 * 1,500 calls between two GCs every further call emits a MaxListenersExceededWarning (an Error with a
 * stack, printed to stderr), which would slow the floor. Lifting the limit on that signal changes
 * nothing else; the accumulation itself is the SDK client's real behaviour and stays in the figure.
 */
const quietFetch: typeof fetch = (input, init) => {
  if (init?.signal) setMaxListeners(0, init.signal);
  return fetch(input, init);
};

/** The built CLI spawned as a child, driven by an SDK client of `era` over stdio. */
export async function connectBridge(url: string, launch: BridgeLaunch, timeoutMs: number, era: ClientEra = '2025'): Promise<Connection> {
  const env = { ...proxyFreeEnv(), ...launch.env };
  const client = stdioSession(era, {
    command: process.execPath,
    args: [...launch.nodeArgs, launch.binPath, url, ...launch.bridgeArgs],
    env,
    maxBufferSize: STDIO_MAX_LINE_BYTES,
  });
  let stderrTail = '';
  client.stderr?.on('data', (chunk: Buffer | string) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
  });
  let closing = false;
  let failure: string | undefined;
  client.onclose = () => {
    if (!closing) failure = `the bridge exited unexpectedly${tail()}`;
  };
  const tail = (): string => (stderrTail.trim() ? `; its stderr ends with:\n${stderrTail.trim()}` : '');

  const t0 = performance.now();
  try {
    await withTimeout(client.connect(), timeoutMs, 'bridge start');
  } catch (err) {
    closing = true;
    await client.close().catch(() => undefined);
    throw new Error(`${(err as Error).message}${tail()}`);
  }
  const connectMs = performance.now() - t0;
  const pid = client.pid;
  // The transport hides the exit code; reach for its child (private field, guarded) to tell a clean
  // exit on stdin EOF from a crash.
  const child = client.child as ChildProcess | undefined;
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null | undefined;
  child?.once('exit', (code, signal) => {
    exitCode = code;
    exitSignal = signal;
  });
  return {
    mode: 'bridge',
    era,
    callTool: (params, ms) => client.callTool(params, ms),
    connectMs,
    pid,
    failure: () => failure,
    async close() {
      closing = true;
      await client.close();
      if (failure === undefined && exitCode !== undefined && exitCode !== 0) {
        // SIGTERM after the transport's 2 s grace means the bridge did not end on stdin EOF.
        failure = `the bridge exited with ${exitCode ?? exitSignal} at close${tail()}`;
      }
    },
  };
}

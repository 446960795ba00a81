import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './deadline.js';
import { READY_FD } from './readyPipe.js';
import type { ClientEra } from './sdkClients.js';

/**
 * The gateways the bench measures against: `lab` (our lab gateway: SDK v1 McpServer behind our own
 * node:http wiring), `v2` (the SDK's v2 server, `createMcpHandler`), `example` (the SDK's example
 * server `simpleStreamableHttp`, run unchanged but for one added tool), each with the 2025 SDK
 * client on the IDE side and as the direct client; and `v2-2026`, the same v2 server with the SDK
 * v2 client pinned to 2026-07-28 on both sides instead: the 2026 era end to end.
 */
export const GATEWAY_KINDS = ['lab', 'v2', 'v2-2026', 'example'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

/** The era of the SDK client used against a gateway kind, direct and through the bridge. */
export function clientEraOf(kind: GatewayKind): ClientEra {
  return kind === 'v2-2026' ? '2026' : '2025';
}

/** A gateway running in a child process. */
export interface GatewayProcess {
  kind: GatewayKind;
  url: string;
  pid: number;
  close(): Promise<void>;
}

export interface GatewayProcessOptions {
  /** default `lab`. */
  kind?: GatewayKind;
  /** Lab only. oauth: the whole lab (gateway + identity provider), for sign-in; dpop: in its 'dpop' mode. */
  auth?: { mode: 'none' } | { mode: 'static'; token: string } | { mode: 'oauth'; dpop?: boolean };
  /** How long to wait for the gateway to listen. */
  startTimeoutMs: number;
  /** Lab only: the gateway times each request it handles and writes the times here when it closes (handlerTimes.ts). */
  handlerTimesFile?: string;
}

const CHILDREN: Record<GatewayKind, string> = {
  lab: fileURLToPath(new URL('./gatewayChild.js', import.meta.url)),
  v2: fileURLToPath(new URL('./v2GatewayChild.js', import.meta.url)),
  'v2-2026': fileURLToPath(new URL('./v2GatewayChild.js', import.meta.url)),
  example: fileURLToPath(new URL('./exampleGatewayChild.js', import.meta.url)),
};

/** Node flags for the gateway children from BENCH_GATEWAY_NODE_ARGS (e.g. --cpu-prof: a profile is written when the gateway ends on stdin EOF). */
function gatewayNodeArgs(): string[] {
  return (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** Start a gateway in its own process (its stdout to /dev/null) and wait until it listens. */
export async function startGatewayProcess(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const kind = opts.kind ?? 'lab';
  const auth = opts.auth ?? { mode: 'none' };
  if (kind !== 'lab' && auth.mode !== 'none') throw new Error(`the ${kind} gateway runs without auth`);
  const env = { ...process.env };
  if (auth.mode === 'static') env.LAB_TOKEN = auth.token;
  if (opts.handlerTimesFile !== undefined) env.BENCH_GATEWAY_TIMES = opts.handlerTimesFile;
  else delete env.BENCH_GATEWAY_TIMES;
  // The gateways keep every response of a session in an event store until the session ends;
  // a roomy heap keeps a long 1 MiB burst from turning into GC thrash on the server side.
  const child = spawn(process.execPath, ['--max-old-space-size=4096', ...gatewayNodeArgs(), CHILDREN[kind], ...(kind === 'lab' ? [auth.mode === 'oauth' && auth.dpop ? 'oauth-dpop' : auth.mode] : [])], {
    stdio: ['pipe', 'ignore', 'inherit', 'pipe'],
    env,
  });
  const ready = child.stdio[READY_FD] as Readable;
  const exited = once(child, 'exit');
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = '';
    ready.setEncoding('utf8');
    ready.on('data', (s: string) => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        resolve(buf.slice(0, nl));
        ready.destroy();
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${kind} gateway process exited (${code}) before listening`)));
  });
  let line: string;
  try {
    line = await withTimeout(firstLine, opts.startTimeoutMs, `starting the ${kind} gateway`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const { url } = JSON.parse(line) as { url: string };
  return {
    kind,
    url,
    pid: child.pid!,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    },
  };
}

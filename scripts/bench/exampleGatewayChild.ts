/**
 * Entry point of the bench's third gateway: the MCP TypeScript SDK's own example server
 * `simpleStreamableHttp` (from @modelcontextprotocol/sdk's dist/esm/examples), run unchanged —
 * Express, sessions, its in-memory event store, its request logging to stdout. Its `greet` tool is
 * the echo workload. It has no tool that answers with a large result (and Express takes request
 * bodies of at most 100 KiB), so one tool, `blob`, is added through the SDK's public API: every
 * McpServer gets it registered just before it connects. Two things of the deployment are set here,
 * as an operator would: the port (MCP_PORT, a free one) and the listen address (127.0.0.1 — the
 * example calls `app.listen(port)`, which would bind every interface).
 * Reports `{"url": ...}` on fd 3 once the port accepts connections; SIGINT (the example's own
 * shutdown) when stdin ends or on SIGTERM.
 */
import { createServer, Server, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { blobText } from '../lab/gateway.js';
import { reportReady } from './readyPipe.js';

const MAX_BLOB_BYTES = 64 * 1024 * 1024;
const READY_TIMEOUT_MS = 20_000;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** `listen(port[, cb])` without a host binds 127.0.0.1 instead of every interface. */
function listenOnLoopbackOnly(): void {
  const listen = Server.prototype.listen as (this: HttpServer, ...args: unknown[]) => HttpServer;
  Server.prototype.listen = function (this: HttpServer, ...args: unknown[]): HttpServer {
    if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) args.splice(1, 0, '127.0.0.1');
    return listen.apply(this, args);
  } as typeof Server.prototype.listen;
}

/** Every McpServer the example builds gets the bench's `blob` tool before it connects. */
function addBlobTool(): void {
  const connectServer = McpServer.prototype.connect;
  McpServer.prototype.connect = function (this: McpServer, transport) {
    this.registerTool(
      'blob',
      { description: 'Returns one text content of exactly `bytes` ASCII characters', inputSchema: { bytes: z.number().int().min(0).max(MAX_BLOB_BYTES) } },
      async ({ bytes }) => ({ content: [{ type: 'text', text: blobText(bytes) }] }),
    );
    return connectServer.call(this, transport);
  };
}

async function untilAccepting(port: number): Promise<void> {
  const until = performance.now() + READY_TIMEOUT_MS;
  for (let attempt = 0; attempt < 400; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > until) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the SDK example server did not accept connections on port ${port}`);
}

const port = await freePort();
process.env.MCP_PORT = String(port);
listenOnLoopbackOnly();
addBlobTool();
await import('@modelcontextprotocol/sdk/examples/server/simpleStreamableHttp.js');
await untilAccepting(port);
const shutdown = (): void => void process.kill(process.pid, 'SIGINT');
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
reportReady({ url: `http://127.0.0.1:${port}/mcp` });

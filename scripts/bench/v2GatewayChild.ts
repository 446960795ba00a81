/**
 * Entry point of the bench's second gateway: the MCP TypeScript SDK's v2 server
 * (`@modelcontextprotocol/server`, the 2026-07-28 revision) as its documentation serves it,
 * `createMcpHandler(factory)` — the modern era per request, 2025-era clients through its stateless
 * legacy leg — on node:http at 127.0.0.1, with the bench's two tools (`echo`, `blob`).
 * The node:http ↔ fetch adapter is a few lines here rather than the `@modelcontextprotocol/node`
 * package (which brings Hono): a body read once, the Response body piped with backpressure.
 * Reports `{"url": ...}` on fd 3 when listening; shuts down when stdin ends or on SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { blobText } from '../lab/gateway.js';
import { reportReady } from './readyPipe.js';

const MAX_BLOB_BYTES = 64 * 1024 * 1024;

function benchServer(): McpServer {
  const server = new McpServer({ name: 'keybridge-bench-v2-gateway', version: '1.0.0' });
  server.registerTool('echo', { description: 'Returns the text it was given', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool(
    'blob',
    { description: 'Returns one text content of exactly `bytes` ASCII characters', inputSchema: z.object({ bytes: z.number().int().min(0).max(MAX_BLOB_BYTES) }) },
    async ({ bytes }) => ({ content: [{ type: 'text', text: blobText(bytes) }] }),
  );
  return server;
}

const handler = createMcpHandler(() => benchServer(), { onerror: (err) => process.stderr.write(`v2 gateway: ${err.message}\n`) });

async function toRequest(req: IncomingMessage, res: ServerResponse, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  // The client went away before the answer was complete (a kept-alive socket serves many requests:
  // listen on this response, not on the socket).
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (hasBody) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    body = Buffer.concat(chunks) as Uint8Array<ArrayBuffer>;
  }
  return new Request(new URL(req.url ?? '/', origin), { method: req.method, headers, body, signal: abort.signal });
}

async function serve(req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
  if (!req.url?.startsWith('/mcp')) {
    res.writeHead(404).end();
    return;
  }
  const response = await handler.fetch(await toRequest(req, res, origin));
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = name === 'set-cookie' ? response.headers.getSetCookie() : value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res);
}

const server = createServer((req, res) => {
  serve(req, res, origin).catch((err: unknown) => {
    // A client that stops reading once it has its answer is not a gateway failure.
    if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') process.stderr.write(`v2 gateway: ${(err as Error).message}\n`);
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  });
});
server.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  void handler.close().finally(() => {
    server.closeAllConnections();
    server.close();
  });
};
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
reportReady({ url: `${origin}/mcp` });

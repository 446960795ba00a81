import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { acceptedContent, createMcpHandler, inputRequired, McpServer } from '@modelcontextprotocol/server';
import { blobText } from './gatewayTools.js';

/**
 * The lab's 2026-07-28 gateway: the MCP TypeScript SDK's v2 server (`@modelcontextprotocol/server`,
 * `createMcpHandler` in modern-only strict mode: no initialize, no session) on node:http, with the
 * lab tools plus one whose parameter is mirrored into a header (`x-mcp-header`) and one that needs
 * a multi-round-trip input (an elicitation through `input_required`).
 */
export interface Gateway2026Options {
  port?: number;
  /** none, or a static bearer token the gateway requires (401 without it). */
  auth?: { mode: 'none' } | { mode: 'static'; token: string };
}

export interface Gateway2026Record {
  /** Every POST: its JSON-RPC method and the MCP headers it carried. */
  requests: { method?: string; id?: unknown; headers: Record<string, string>; meta?: Record<string, unknown> }[];
  toolCalls: { name: string; args: unknown }[];
  /** Tool calls whose request was cancelled (the client closed the response stream). */
  cancelled: string[];
  /** Every HTTP method seen (a 2026-07-28 client sends POST only). */
  httpMethods: string[];
}

export interface Gateway2026 {
  url: string;
  port: number;
  record: Gateway2026Record;
  /** Push notifications/tools/list_changed to every open subscriptions/listen stream. */
  toolsChanged(): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

function text(value: string) {
  return { content: [{ type: 'text' as const, text: value }] };
}

function labServer(record: Gateway2026Record): McpServer {
  const server = new McpServer({ name: 'keybridge-lab-gateway-2026', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } }, instructions: 'The keybridge lab, 2026-07-28 edition.' });
  const note = (name: string, args: unknown): void => void record.toolCalls.push({ name, args });
  server.registerTool('echo', { description: 'Returns the text it was given', inputSchema: z.object({ text: z.string() }) }, async (args) => {
    note('echo', args);
    return text(args.text);
  });
  server.registerTool('add', { description: 'Adds two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) }, async (args) => {
    note('add', args);
    return text(String(args.a + args.b));
  });
  server.registerTool('blob', { description: 'Returns exactly `bytes` ASCII characters (see blobText)', inputSchema: z.object({ bytes: z.number().int().min(0).max(64 * 1024 * 1024) }) }, async (args) => {
    note('blob', args);
    return text(blobText(args.bytes));
  });
  server.registerTool('slow', { description: 'Waits `ms` milliseconds (cancellable)', inputSchema: z.object({ ms: z.number().int().min(0).max(120_000) }) }, async (args, ctx) => {
    note('slow', args);
    const signal = ctx.mcpReq.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, args.ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        record.cancelled.push('slow');
        resolve();
      }, { once: true });
    });
    return text(signal.aborted ? 'cancelled' : `waited ${args.ms} ms`);
  });
  server.registerTool('progress', { description: 'Reports `steps` progress notifications, then completes (with `bytes` characters of blobText when given)', inputSchema: z.object({ steps: z.number().int().min(1).max(1000), bytes: z.number().int().min(0).max(64 * 1024 * 1024).optional() }) }, async (args, ctx) => {
    note('progress', args);
    const token = ctx.mcpReq._meta?.progressToken;
    if (token !== undefined) {
      for (let i = 1; i <= args.steps; i++) {
        await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: args.steps } });
      }
    }
    return text(args.bytes === undefined ? `completed ${args.steps} steps` : blobText(args.bytes));
  });
  server.registerTool(
    'route',
    {
      description: 'Returns the Mcp-Param-Region header it received (the region parameter is mirrored into it)',
      inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }), text: z.string() }),
    },
    async (args, ctx) => {
      note('route', args);
      return text(`region header: ${ctx.http?.req?.headers.get('mcp-param-region') ?? '(none)'}`);
    },
  );
  const answer = z.object({ answer: z.string() });
  server.registerTool('confirm', { description: 'Asks the user (elicitation, multi-round-trip) and echoes the answer', inputSchema: z.object({ question: z.string() }) }, async (args, ctx) => {
    const given = acceptedContent(ctx.mcpReq.inputResponses, 'answer', answer);
    if (!given) {
      return inputRequired({ inputRequests: { answer: inputRequired.elicit({ message: args.question, requestedSchema: answer }) }, requestState: `asked:${args.question}` });
    }
    note('confirm', args);
    return text(`answered: ${given.answer} (state ${String(ctx.mcpReq.requestState())})`);
  });
  return server;
}

/** Start the 2026-07-28 lab gateway on 127.0.0.1. */
export async function startGateway2026(opts: Gateway2026Options = {}): Promise<Gateway2026> {
  const record: Gateway2026Record = { requests: [], toolCalls: [], cancelled: [], httpMethods: [] };
  const handler = createMcpHandler(() => labServer(record), { legacy: 'reject', keepAliveMs: 5_000 });
  const auth = opts.auth ?? { mode: 'none' };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    record.httpMethods.push(req.method ?? '');
    if (auth.mode === 'static') {
      const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const ok = presented.length === auth.token.length && timingSafeEqual(Buffer.from(presented), Buffer.from(auth.token));
      if (!ok) {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer', 'Content-Type': 'application/json' }).end('{"error":"invalid_token"}');
        return;
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    try {
      const msg = JSON.parse(body.toString('utf8')) as { method?: string; id?: unknown; params?: { _meta?: Record<string, unknown> } };
      const mcp: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (k.startsWith('mcp-')) mcp[k] = v;
      record.requests.push({ method: msg.method, id: msg.id, headers: mcp, meta: msg.params?._meta });
    } catch {
      // the handler answers a body that is not JSON
    }
    // The client closing the connection cancels the request (2026-07-28 Streamable HTTP, "Cancellation").
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    const response = await handler.fetch(
      new Request(`http://127.0.0.1${req.url ?? '/'}`, { method: req.method, headers, body: req.method === 'POST' ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : undefined, signal: aborted.signal }),
    );
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      out[name] = value;
    });
    res.writeHead(response.status, out);
    if (!response.body) {
      res.end();
      return;
    }
    const stream = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    res.on('close', () => stream.destroy());
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };

  const server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    record,
    toolsChanged: () => void handler.notify.toolsChanged(),
    close: async () => {
      await handler.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

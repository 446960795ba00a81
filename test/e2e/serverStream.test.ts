/**
 * The server's stream (GET) is open before the IDE's next request reaches the gateway. A stock SDK
 * 1.x server sends a request of its own that is not tied to a client request (server.request
 * without relatedRequestId, as the conformance suite's elicitation scenario does) on the GET stream
 * only, and drops it when that stream is not open yet. This gateway answers its GET a little late
 * (as a loaded machine does), and the IDE writes its tools/call right behind
 * notifications/initialized: the elicitation must still reach the IDE and the call must finish.
 * Built CLI, real SDK server on loopback.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ElicitResultSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { assertStdoutIsJsonRpc, spawnBridge } from './harness/bridgeProcess.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** How late the gateway answers the GET: long enough that a request sent without waiting overtakes it. */
const GET_DELAY_MS = 400;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

async function startLateStreamGateway(): Promise<{ url: string; gets: () => number }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let gets = 0;
  const mcp = (): Server => {
    const server = new Server({ name: 'late-stream', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'ask', description: 'asks the user', inputSchema: { type: 'object', properties: {} } }],
    }));
    server.setRequestHandler(CallToolRequestSchema, async () => {
      const answer = await server.request(
        {
          method: 'elicitation/create',
          params: { message: 'your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } },
        },
        ElicitResultSchema,
        { timeout: 60_000 },
      );
      return { content: [{ type: 'text', text: `${answer.action}:${String(answer.content?.name)}` }] };
    });
    return server;
  };
  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      const sid = req.headers['mcp-session-id'] as string | undefined;
      if (req.method === 'POST') {
        const body = await readJson(req);
        let transport = sid ? sessions.get(sid) : undefined;
        if (!transport && !sid && (body as { method?: string } | undefined)?.method === 'initialize') {
          const t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void sessions.set(id, t) });
          await mcp().connect(t);
          transport = t;
        }
        if (!transport) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no session' } }));
          return;
        }
        await transport.handleRequest(req, res, body);
        return;
      }
      const transport = sid ? sessions.get(sid) : undefined;
      if (!transport) {
        res.writeHead(400).end('no session');
        return;
      }
      if (req.method === 'GET') {
        gets++;
        await new Promise((r) => setTimeout(r, GET_DELAY_MS));
      }
      await transport.handleRequest(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const t of sessions.values()) await t.close().catch(() => undefined);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });
  const { port } = http.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/mcp`, gets: () => gets };
}

describe('server-initiated requests on a stream the gateway opens late', () => {
  it('a tools/call written right behind notifications/initialized waits for the stream, so the elicitation reaches the IDE', async () => {
    const gw = await startLateStreamGateway();
    const home = await mkdtemp(path.join(tmpdir(), 'kb-stream-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const b = spawnBridge([gw.url], { env: { MCP_KEYBRIDGE_HOME: home, BROWSER: 'false' } });
    cleanups.push(() => b.kill());
    b.writeLine(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { elicitation: {} }, clientInfo: { name: 'ide', version: '1' } } }),
    );
    expect((await b.waitFor((m) => m.id === 1, 60_000)).result).toBeDefined();
    // Back to back, as an IDE that calls a tool the moment it is connected.
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } }));

    const elicit = await b.waitFor((m) => m.method === 'elicitation/create', 60_000);
    expect(gw.gets()).toBeGreaterThanOrEqual(1);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: elicit.id, result: { action: 'accept', content: { name: 'Ada' } } }));
    const answer = await b.waitFor((m) => m.id === 2, 60_000);
    expect(answer.result).toEqual({ content: [{ type: 'text', text: 'accept:Ada' }] });

    b.child.stdin.end();
    await b.exited;
    assertStdoutIsJsonRpc(b.stdout());
  }, 180_000);
});

/**
 * A hostile MCP gateway for the bounded-memory, retry and fuzz tests, on 127.0.0.1 only. It speaks
 * just enough Streamable HTTP (initialize answered with a session, notifications 202) and answers
 * every other request as `mode` says: with a body that never ends (an SSE comment, SSE data lines
 * with no blank line, one SSE data line, a JSON body), a socket reset after it ran the call, a
 * protected-resource metadata document that never ends, or — 'fuzz' — a seeded random answer.
 * Floods are written with backpressure and stop when the client goes away (or after 2 GiB).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HostileGatewayMode =
  | 'sse-comment-flood'
  | 'sse-data-lines-flood'
  | 'sse-data-line-flood'
  | 'json-flood'
  | 'prm-flood'
  | 'reset-after-call'
  | 'large-tricky-answer'
  | 'fuzz';

export interface HostileGatewayOptions {
  mode: HostileGatewayMode;
  /** 'fuzz': seed of the answers' random choices. */
  seed?: number;
}

export interface HostileGateway {
  url: string;
  /** Every JSON-RPC method POSTed, in order (tools/call included, however it was answered). */
  methods: string[];
  /** tools/call requests that reached the gateway (and, for reset-after-call, ran). */
  toolCalls: number;
  /** Bytes of flood written so far. */
  floodBytes(): number;
  close(): Promise<void>;
}

const FLOOD_LIMIT_BYTES = 2 * 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** A small deterministic PRNG (mulberry32), so a fuzz run is the same run every time. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Write `head`, then `unit` again and again with backpressure until the client leaves or the limit. */
function flood(res: ServerResponse, head: string, unit: Buffer, count: { bytes: number }): void {
  let stopped = false;
  res.on('close', () => {
    stopped = true;
  });
  res.write(head);
  const pump = (): void => {
    while (!stopped && count.bytes < FLOOD_LIMIT_BYTES) {
      count.bytes += unit.length;
      if (!res.write(unit)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!stopped) res.end();
  };
  pump();
}

const INIT_RESULT = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'hostile-gateway', version: '1' } };

/** Start the hostile gateway on 127.0.0.1. */
export async function startHostileGateway(opts: HostileGatewayOptions): Promise<HostileGateway> {
  const methods: string[] = [];
  const count = { bytes: 0 };
  let toolCalls = 0;
  let origin = '';
  const random = seededRandom(opts.seed ?? 1);

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'mcp-session-id': 'hostile-session', ...headers }).end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.startsWith('/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      flood(res, `{"resource":"${origin}/mcp","authorization_servers":["${origin}"],"padding":"`, CHUNK, count);
      return;
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      res.writeHead(405).end();
      return;
    }
    const body = await readBody(req);
    let msg: { id?: unknown; method?: unknown; params?: { arguments?: { text?: unknown; as?: unknown } } } = {};
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
      return;
    }
    methods.push(typeof msg.method === 'string' ? msg.method : '(response)');
    if (opts.mode === 'prm-flood') {
      json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` });
      return;
    }
    if (msg.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    if (msg.method === 'server/discover') {
      // As a 2025 SDK server answers the 2026-07-28 probe: a 400 that is not about the transport.
      json(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: Server not initialized' } });
      return;
    }
    if (msg.method === 'initialize') {
      json(res, 200, { jsonrpc: '2.0', id: msg.id, result: INIT_RESULT });
      return;
    }
    if (msg.method === 'tools/call') toolCalls++;
    const idJson = JSON.stringify(msg.id);
    switch (opts.mode) {
      case 'sse-comment-flood':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        flood(res, ':', CHUNK, count);
        return;
      case 'sse-data-lines-flood':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        flood(res, '', Buffer.from(`data: ${'y'.repeat(1000)}\n`), count);
        return;
      case 'sse-data-line-flood':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        flood(res, `data: {"jsonrpc":"2.0","id":${idJson},"result":{"content":[{"type":"text","text":"`, CHUNK, count);
        return;
      case 'json-flood':
        res.writeHead(200, { 'content-type': 'application/json' });
        flood(res, `{"jsonrpc":"2.0","id":${idJson},"result":{"content":[{"type":"text","text":"`, CHUNK, count);
        return;
      case 'reset-after-call':
        // The call ran; the connection is reset before any answer (RST, not FIN).
        req.socket.resetAndDestroy();
        return;
      case 'large-tricky-answer':
        largeTrickyAnswer(res, idJson, String(msg.params?.arguments?.text), msg.params?.arguments?.as === 'json');
        return;
      case 'fuzz':
        fuzzAnswer(res, idJson, random);
        return;
      default:
        json(res, 500, { error: 'unknown mode' });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/mcp`,
    methods,
    get toolCalls() {
      return toolCalls;
    },
    floodBytes: () => count.bytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * 'large-tricky-answer': an answer past 64 KiB (so the bridge reads its envelope while streaming it)
 * whose id only a full JSON reading gets right: 'escaped-id' ("\u0069d" is "id"), 'duplicate-id'
 * (the last "id" is another request's), 'invalid-json' (the request's id, then a syntax error).
 */
function largeTrickyAnswer(res: ServerResponse, idJson: string, variant: string, asJson: boolean): void {
  const padding = 'p'.repeat(200 * 1024);
  const body =
    variant === 'escaped-id'
      ? `{"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"${padding}"}]},"\u0069d":${idJson}}`
      : variant === 'duplicate-id'
        ? `{"jsonrpc":"2.0","id":${idJson},"result":{"content":[{"type":"text","text":"${padding}"}]},"i\u0064":"someone-else"}`
        : `{"jsonrpc":"2.0","id":${idJson},"result":{"content":[{"type":"text","text":"${padding}"}],"n":01}}`;
  if (asJson) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(`data: ${body}\n\n`);
}

/** One random answer for request idJson: right or wrong id, SSE or JSON, malformed, tricky keys, HTTP errors, resets. */
function fuzzAnswer(res: ServerResponse, idJson: string, random: () => number): void {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const good = `{"jsonrpc":"2.0","id":${idJson},"result":{"content":[{"type":"text","text":"ok"}]}}`;
  const bodies = [
    good,
    `{"jsonrpc":"2.0","id":${idJson},"error":{"code":-32601,"message":"no"}}`,
    `{"jsonrpc":"2.0","\\u0069d":${idJson},"result":{}}`,
    `{"jsonrpc":"2.0","id":"other-${random()}","result":{}}`,
    `{"jsonrpc":"2.0","id":${idJson},"id":"dup","result":{}}`,
    `{"jsonrpc":"2.0","id":${idJson},"result":{"x":[1,,2]}}`,
    `{"jsonrpc":"2.0","id":${idJson},"result":tru}`,
    `{"jsonrpc":"2.0","id":${idJson},"result":{}}}`,
    `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}`,
    `[${good}]`,
    'not json at all',
    '',
    `{"jsonrpc":"2.0","id":${idJson},"result":{"deep":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    `{"jsonrpc":"2.0",\n"id":${idJson},\r\n"result":{"s":"line\\nbreak"}}`,
  ] as const;
  const body = pick(bodies);
  const kind = random();
  if (kind < 0.4) {
    const headers: Record<string, string> = { 'content-type': 'text/event-stream' };
    res.writeHead(200, headers);
    const events = random() < 0.3 ? `event: message\ndata: ${pick(bodies)}\n\n` : '';
    const framed = body.split(/\r?\n/).map((l) => `data: ${l}`).join('\n');
    res.end(`: hello\nretry: ${Math.floor(random() * 1e9)}\n${events}${framed}\n\n${random() < 0.5 ? `data: ${good}\n\n` : ''}`);
  } else if (kind < 0.8) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  } else if (kind < 0.88) {
    res.writeHead(pick([202, 400, 404, 500, 502, 503]), { 'content-type': 'application/json' }).end(body);
  } else if (kind < 0.94) {
    res.socket?.resetAndDestroy();
  } else {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${good.slice(0, Math.floor(random() * good.length))}`);
    res.socket?.destroy();
  }
}

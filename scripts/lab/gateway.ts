import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { GatewayAuthenticator, type GatewayAuth } from './gatewayAuth.js';
import type { GatewayDpop } from './gatewayDpop.js';
import { createLabMcpServer } from './gatewayTools.js';
import { LabEventStore } from './eventStore.js';

export type { GatewayAuth } from './gatewayAuth.js';
export { blobText } from './gatewayTools.js';

export interface GatewayOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 = ephemeral */
  port?: number;
  /** default '/mcp' */
  path?: string;
  auth?: GatewayAuth;
  /**
   * Serve ONLY the legacy HTTP+SSE transport (2024-11-05): GET on the MCP path (and on /sse) opens
   * the event stream whose `endpoint` event names POST /messages?sessionId=…; POST/DELETE on the
   * MCP path answer 405 so a client's Streamable HTTP attempt fails and it can fall back.
   */
  legacySse?: boolean;
  /** Serve https with this key and certificate (PEM) instead of http. */
  tls?: { key: string; cert: string };
}

export interface GatewayRecord {
  requests: { method: string; path: string; authorization?: string; sessionId?: string; protocolVersion?: string; lastEventId?: string; status?: number }[];
  toolCalls: { name: string; args: unknown; subject?: string }[];
  cancellations: { requestId: unknown; reason?: string }[];
  deletedSessions: string[];
  /** Every JSON-RPC message POSTed to the MCP path (batch items one by one), as it arrived; `fault` when an injected fault answered it. */
  rpc: { method?: string; id?: unknown; sessionId?: string; protocolVersion?: string; fault?: number }[];
  /** Sessions dropped by expireSessions() (the client was not told). */
  expiredSessions: string[];
}

/** A failure the gateway answers instead of serving a POST (see Gateway.injectFaults). */
export interface GatewayFault {
  /** HTTP status to answer, e.g. 503, 502, 429. */
  status: number;
  /** Retry-After header value (delay-seconds or an HTTP-date). */
  retryAfter?: string;
  /** Only a POST carrying this JSON-RPC method consumes the fault (default: the next POST of any kind). */
  method?: string;
  /** Response body (default: a small HTML page, as a load balancer would send). */
  body?: string;
}

export interface Gateway {
  /** Full MCP endpoint URL, e.g. http://127.0.0.1:PORT/mcp (also the legacy SSE GET URL). */
  url: string;
  port: number;
  record: GatewayRecord;
  setAuth(auth: GatewayAuth): void;
  /** The DPoP checks of 'dpop' mode (what was accepted and refused, the current nonce); undefined otherwise. */
  dpop(): GatewayDpop | undefined;
  /**
   * Forget every Streamable HTTP session, as a gateway does when sessions time out or it loses its
   * state: later requests with those session ids get 404 and their streams end. Returns their ids.
   */
  expireSessions(): Promise<string[]>;
  /** Queue faults: each is consumed by the next POST (matching its method, if given) in order, before auth. */
  injectFaults(faults: GatewayFault[]): void;
  /** Faults injected but not consumed yet. */
  pendingFaults(): number;
  /** Closes all sockets promptly, including open SSE streams. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const LEGACY_MESSAGES_PATH = '/messages';
const PRM_PREFIX = '/.well-known/oauth-protected-resource';

type RequestWithAuth = IncomingMessage & { auth?: AuthInfo };

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Tool names a JSON-RPC body (single message or batch) calls, peeked before the SDK sees it. */
function calledTools(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const m of messages) {
    if (m && typeof m === 'object' && (m as { method?: unknown }).method === 'tools/call') {
      const name = (m as { params?: { name?: unknown } }).params?.name;
      if (typeof name === 'string') names.push(name);
    }
  }
  return names;
}

interface Session {
  server: McpServer;
  close(): Promise<void>;
}

/** Start the lab MCP gateway: the SDK's McpServer behind Streamable HTTP (or legacy SSE) on node:http. */
export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  const host = opts.host ?? '127.0.0.1';
  const mcpPath = opts.path ?? '/mcp';
  const record: GatewayRecord = { requests: [], toolCalls: [], cancellations: [], deletedSessions: [], rpc: [], expiredSessions: [] };
  const faults: GatewayFault[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const legacy = new Map<string, SSEServerTransport>();
  const live = new Set<Session>();
  let origin = '';
  let gatewayUrl = '';
  const authenticator = new GatewayAuthenticator(opts.auth ?? { mode: 'none' }, {
    get resourceMetadataUrl() {
      return `${origin}${PRM_PREFIX}${mcpPath}`;
    },
  });

  const track = (server: McpServer): Session => {
    const session: Session = {
      server,
      close: async () => {
        live.delete(session);
        await server.close().catch(() => undefined);
      },
    };
    live.add(session);
    return session;
  };

  /** Authenticate; on refusal answer 401/403 and return undefined. */
  const admit = async (req: RequestWithAuth, res: ServerResponse, body: unknown): Promise<boolean> => {
    const url = new URL(req.url ?? '/', origin);
    const presented = { authorization: header(req, 'authorization'), dpop: req.headers.dpop, method: req.method ?? 'GET', htu: `${origin}${url.pathname}` };
    const outcome = await authenticator.authenticate(presented, calledTools(body));
    if (!outcome.ok) {
      sendJson(res, outcome.status, { error: outcome.error, error_description: outcome.description }, { 'WWW-Authenticate': outcome.wwwAuthenticate, ...outcome.headers });
      return false;
    }
    if (outcome.authInfo) req.auth = outcome.authInfo;
    return true;
  };

  const parseJsonBody = async (req: IncomingMessage, res: ServerResponse): Promise<{ ok: true; body: unknown } | { ok: false }> => {
    try {
      const raw = await readBody(req);
      return { ok: true, body: JSON.parse(raw) as unknown };
    } catch (error) {
      if (error instanceof BodyTooLarge) jsonRpcError(res, 413, -32600, error.message);
      else jsonRpcError(res, 400, -32700, 'Parse error');
      return { ok: false };
    }
  };

  const serveMetadata = (res: ServerResponse): void => {
    const auth = authenticator.auth;
    if (auth.mode !== 'jwt') {
      sendJson(res, 404, { error: 'not_found' });
      return;
    }
    // RFC 9728 §3.2 protected resource metadata
    sendJson(res, 200, {
      resource: gatewayUrl,
      authorization_servers: [auth.issuer],
      scopes_supported: auth.scopesSupported ?? [],
      bearer_methods_supported: ['header'],
      resource_name: 'keybridge lab gateway',
    });
  };

  /** Note the POSTed messages; answer with the first queued fault that matches, if any (true: answered). */
  const noteAndMaybeFault = (req: IncomingMessage, res: ServerResponse, body: unknown): boolean => {
    const messages = (Array.isArray(body) ? body : [body]).map((m) => {
      const o = (m && typeof m === 'object' ? m : {}) as { method?: unknown; id?: unknown };
      const entry = { method: typeof o.method === 'string' ? o.method : undefined, id: o.id, sessionId: header(req, 'mcp-session-id'), protocolVersion: header(req, 'mcp-protocol-version') };
      return entry as GatewayRecord['rpc'][number];
    });
    const at = faults.findIndex((f) => f.method === undefined || messages.some((m) => m.method === f.method));
    const fault = at === -1 ? undefined : faults.splice(at, 1)[0];
    for (const m of messages) record.rpc.push(fault ? { ...m, fault: fault.status } : m);
    if (!fault) return false;
    const payload = fault.body ?? `<html><body><h1>${fault.status}</h1><p>injected by the lab gateway</p></body></html>`;
    const headers: Record<string, string> = { 'Content-Type': 'text/html', 'Content-Length': String(Buffer.byteLength(payload)) };
    if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
    res.writeHead(fault.status, headers).end(payload);
    return true;
  };

  const handleStreamable = async (req: RequestWithAuth, res: ServerResponse): Promise<void> => {
    let body: unknown;
    if (req.method === 'POST') {
      const parsed = await parseJsonBody(req, res);
      if (!parsed.ok) return;
      body = parsed.body;
      if (noteAndMaybeFault(req, res, body)) return;
    } else if (req.method !== 'GET' && req.method !== 'DELETE') {
      jsonRpcError(res, 405, -32000, 'Method not allowed', { Allow: 'GET, POST, DELETE' });
      return;
    }
    if (!(await admit(req, res, body))) return;
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const transport = streamable.get(sessionId);
      if (!transport) {
        jsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      await transport.handleRequest(req, res, body);
      return;
    }
    const initializing = req.method === 'POST' && (Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body));
    if (!initializing) {
      jsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const server = createLabMcpServer(record);
    const session = track(server);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new LabEventStore(),
      onsessioninitialized: (id) => {
        streamable.set(id, transport);
      },
      onsessionclosed: (id) => {
        record.deletedSessions.push(id);
        streamable.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) streamable.delete(transport.sessionId);
      live.delete(session);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (transport.sessionId === undefined) await session.close();
  };

  const handleLegacyStream = async (req: RequestWithAuth, res: ServerResponse): Promise<void> => {
    if (!(await admit(req, res, undefined))) return;
    const transport = new SSEServerTransport(LEGACY_MESSAGES_PATH, res);
    const server = createLabMcpServer(record);
    const session = track(server);
    legacy.set(transport.sessionId, transport);
    transport.onclose = () => {
      legacy.delete(transport.sessionId);
      live.delete(session);
    };
    await server.connect(transport);
  };

  const handleLegacyPost = async (req: RequestWithAuth, res: ServerResponse, url: URL): Promise<void> => {
    const parsed = await parseJsonBody(req, res);
    if (!parsed.ok) return;
    if (!(await admit(req, res, parsed.body))) return;
    const transport = legacy.get(url.searchParams.get('sessionId') ?? '');
    if (!transport) {
      jsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    await transport.handlePostMessage(req, res, parsed.body);
  };

  const route = async (req: RequestWithAuth, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const entry: GatewayRecord['requests'][number] = {
      method: req.method ?? 'GET',
      path: url.pathname,
      authorization: header(req, 'authorization'),
      sessionId: header(req, 'mcp-session-id'),
      protocolVersion: header(req, 'mcp-protocol-version'),
      lastEventId: header(req, 'last-event-id'),
    };
    record.requests.push(entry);
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      entry.status = args[0] as number;
      return writeHead(...args);
    }) as typeof res.writeHead;
    res.once('finish', () => {
      entry.status ??= res.statusCode;
    });

    if (req.method === 'GET' && (url.pathname === `${PRM_PREFIX}${mcpPath}` || url.pathname === PRM_PREFIX)) {
      serveMetadata(res);
      return;
    }
    if (opts.legacySse) {
      if (req.method === 'GET' && (url.pathname === mcpPath || url.pathname === '/sse')) return handleLegacyStream(req, res);
      if (req.method === 'POST' && url.pathname === LEGACY_MESSAGES_PATH) return handleLegacyPost(req, res, url);
      if (url.pathname === mcpPath) {
        jsonRpcError(res, 405, -32000, 'Method not allowed: this gateway only speaks the legacy HTTP+SSE transport', { Allow: 'GET' });
        return;
      }
    } else if (url.pathname === mcpPath) {
      return handleStreamable(req, res);
    }
    sendJson(res, 404, { error: 'not_found' });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) jsonRpcError(res, 500, -32603, error instanceof Error ? error.message : 'Internal error');
      else res.destroy();
    });
  };
  const httpServer: Server = opts.tls ? createHttpsServer(opts.tls, onRequest) : createServer(onRequest);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  origin = `${opts.tls ? 'https' : 'http'}://${hostPart}:${port}`;
  gatewayUrl = `${origin}${mcpPath}`;

  return {
    url: gatewayUrl,
    port,
    record,
    setAuth: (auth) => authenticator.set(auth),
    dpop: () => authenticator.dpop,
    expireSessions: async () => {
      const expired = [...streamable.entries()];
      streamable.clear();
      for (const [id, transport] of expired) {
        record.expiredSessions.push(id);
        await transport.close().catch(() => undefined);
      }
      return expired.map(([id]) => id);
    },
    injectFaults: (list) => {
      faults.push(...list);
    },
    pendingFaults: () => faults.length,
    close: async () => {
      await Promise.all([...live].map((s) => s.close()));
      await Promise.all([...legacy.values()].map((t) => t.close().catch(() => undefined)));
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}

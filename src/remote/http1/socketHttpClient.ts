import { DEFAULT_TIMEOUTS, type HttpClient, type HttpRequest, type HttpResponse, type HttpTimeouts } from '../httpClient.js';
import { Connection, IDLE_CLOSE_MS, monotonicMs } from './connection.js';
import { codedError } from './failures.js';
import { TOKEN } from './responseParser.js';

/** Connections open at once to one origin; further requests wait for one to be free. */
const MAX_CONNECTIONS_PER_ORIGIN = 64;
/** A kept-alive connection idle for longer is not handed a request (it closes itself at IDLE_CLOSE_MS). */
const REUSE_IDLE_LIMIT_MS = IDLE_CLOSE_MS - 250;
/**
 * A field value may hold HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5) and nothing else: the head
 * is written as latin1, where a character past U+00FF would lose its high byte (U+010D, U+010A
 * would become CR LF and end the field: header injection, request splitting).
 */
const BAD_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** A connection is not reused within this margin of the idle time the server said it keeps one. */
const SERVER_IDLE_MARGIN_MS = 1_000;
/** Fields the request's framing owns: set here, never taken from the caller. */
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

interface OriginPool {
  idle: Connection[];
  open: Set<Connection>;
  waiting: (() => void)[];
}

/**
 * HTTP/1.1 for the bridge's exchanges with the gateway, on node:net / node:tls sockets with a
 * keep-alive pool of its own. Chosen over node:http for the hot path: measured on this machine, a
 * 1 MiB answer costs ~1.2-1.4 ms of CPU through node:http and its streams and ~0.5 ms this way
 * (no parser copy of every piece, no Readable between the socket and the reader). TLS is node's:
 * the same certificate checks, trust store and NODE_EXTRA_CA_CERTS as node:https.
 *
 * A request is written only to a connection known to be open: a kept-alive one is checked one
 * turn of the event loop after it is taken (so a close the server sent is seen) and used only if
 * it is still open and was idle for less than REUSE_IDLE_LIMIT_MS; otherwise the request goes out
 * on a fresh connection. So a failure after writing always means "may have arrived".
 */
export class SocketHttpClient implements HttpClient {
  private readonly timeouts: HttpTimeouts;
  private readonly pools = new Map<string, OriginPool>();
  private closed = false;

  constructor(timeouts: Partial<HttpTimeouts> = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req;
    if (!isHttp(url)) throw new TypeError(`unsupported protocol ${url.protocol}`);
    const head = requestHead(req);
    const { conn, reused } = await this.connection(this.pool(url.origin), url, req.signal);
    try {
      const { headersMs, bodyIdleMs } = this.timeouts;
      return await conn.exchange({ head, body: req.body, method: req.method, headersMs, bodyIdleMs, signal: req.signal });
    } catch (err) {
      // Tells the retry policy that a kept-alive connection failed under us (informational).
      if (reused && err instanceof Error) (err as Error & { reusedSocket?: boolean }).reusedSocket = true;
      throw err;
    }
  }

  /**
   * Open one connection to the origin now, so that TCP and TLS (a round trip or two to a remote
   * gateway) overlap what comes before the first request: reading the token from the keychain,
   * the IDE's first message. Nothing is sent on it; it is used like any idle one (or closes
   * itself after the idle limit).
   */
  preconnect(url: URL): void {
    if (this.closed || !isHttp(url)) return;
    const pool = this.pool(url.origin);
    if (pool.open.size > 0) return;
    const conn = new Connection({ url, connectMs: this.timeouts.connectMs }, (c) => this.released(pool, c));
    pool.open.add(conn);
    conn.park();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) {
      for (const conn of [...pool.open]) conn.destroy();
      for (const wake of pool.waiting.splice(0)) wake();
    }
  }

  private pool(origin: string): OriginPool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = { idle: [], open: new Set(), waiting: [] };
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** The most recently idle connection that is still fit for a request, checked one turn later. */
  private async reusable(pool: OriginPool, signal?: AbortSignal): Promise<Connection | undefined> {
    for (;;) {
      const conn = pool.idle.pop();
      if (!conn) return undefined;
      if (!this.fit(conn)) {
        conn.destroy();
        continue;
      }
      const idleSince = conn.idleSince;
      conn.idleSince = undefined; // taken: not handed out twice meanwhile
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) {
        conn.idleSince = idleSince;
        this.released(pool, conn);
        signal.throwIfAborted();
      }
      if (conn.usable) return conn;
      conn.destroy();
    }
  }

  private fit(conn: Connection): boolean {
    const limit = Math.min(REUSE_IDLE_LIMIT_MS, (conn.serverIdleMs ?? Infinity) - SERVER_IDLE_MARGIN_MS);
    return conn.usable && conn.idleSince !== undefined && monotonicMs() - conn.idleSince < limit;
  }

  /** An idle connection fit for the request, else a new one once fewer than the limit are open to the origin. */
  private async connection(pool: OriginPool, url: URL, signal?: AbortSignal): Promise<{ conn: Connection; reused: boolean }> {
    let waited = false;
    for (;;) {
      const idle = await this.reusable(pool, signal);
      if (idle) return { conn: idle, reused: !idle.fresh };
      if (this.closed) throw new Error('the HTTP client is closed');
      if (pool.open.size < MAX_CONNECTIONS_PER_ORIGIN) break;
      // Woken but beaten to it: it waits again at the front, not behind requests that came later.
      await this.turn(pool, signal, waited);
      waited = true;
    }
    const conn = new Connection({ url, connectMs: this.timeouts.connectMs }, (c) => this.released(pool, c));
    pool.open.add(conn);
    return { conn, reused: false };
  }

  /** Wait until a connection of the origin is free or closed; an abort ends the wait (and passes a wake-up on). */
  private turn(pool: OriginPool, signal: AbortSignal | undefined, front: boolean): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) {
          // Woken, but no longer waiting: the turn goes to the next in line.
          const next = pool.waiting.shift();
          if (next) queueMicrotask(next);
          reject(signal.reason);
          return;
        }
        resolve();
      };
      const onAbort = (): void => {
        const at = pool.waiting.indexOf(wake);
        if (at !== -1) pool.waiting.splice(at, 1);
        reject(signal!.reason);
      };
      if (front) pool.waiting.unshift(wake);
      else pool.waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A connection finished an exchange (kept for the next) or closed. */
  private released(pool: OriginPool, conn: Connection): void {
    if (conn.usable && conn.idleSince !== undefined && !this.closed) {
      if (!pool.idle.includes(conn)) pool.idle.push(conn);
    } else {
      pool.open.delete(conn);
      const at = pool.idle.indexOf(conn);
      if (at !== -1) pool.idle.splice(at, 1);
    }
    // One waiter, after the current callback: it takes the idle connection or opens one.
    const wake = pool.waiting.shift();
    if (wake) queueMicrotask(wake);
  }
}

function isHttp(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

/** The request line and fields, checked: a method or name that is not a token, or a value with a character BAD_FIELD_VALUE refuses, is not sent. */
function requestHead(req: HttpRequest): string {
  const { url } = req;
  if (!TOKEN.test(req.method)) throw invalidHeader(`invalid method "${req.method}"`);
  let host = url.host;
  let fields = '';
  for (const [name, value] of Object.entries(req.headers)) {
    if (!TOKEN.test(name)) throw invalidHeader(`invalid header name "${name}"`);
    if (BAD_FIELD_VALUE.test(value)) throw invalidHeader(`invalid character in the ${name} header`);
    const lower = name.toLowerCase();
    if (lower === 'host') host = value;
    else if (!FRAMING_FIELDS.has(lower)) fields += `${name}: ${value}\r\n`;
  }
  if (req.body !== undefined) fields += `Content-Length: ${Buffer.byteLength(req.body)}\r\n`;
  const target = `${url.pathname || '/'}${url.search}`;
  return `${req.method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${fields}\r\n`;
}

function invalidHeader(message: string): Error {
  return codedError('ERR_INVALID_CHAR', message);
}

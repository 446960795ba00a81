import http from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import { NOT_WRITTEN } from './retryPolicy.js';
import { DEFAULT_TIMEOUTS, type HttpClient, type HttpRequest, type HttpResponse, type HttpTimeouts } from './httpClient.js';

/**
 * HTTP on node:http/https with a keep-alive pool. Chosen over undici for the hot path because it
 * costs nothing to load (undici's import alone is ~100 ms, half the start-up budget); TLS trust
 * follows Node (NODE_EXTRA_CA_CERTS works as documented). node:https (and TLS with it) is loaded
 * on the first https request, so a gateway on http:// never pays for it.
 */
export class NodeHttpClient implements HttpClient {
  private readonly httpAgent: http.Agent;
  private httpsAgentOnce: https.Agent | undefined;
  private readonly agentOpts = { keepAlive: true, keepAliveMsecs: 15_000, maxSockets: 64, scheduling: 'lifo' as const };
  private readonly timeouts: HttpTimeouts;
  /** When each pooled socket last went idle (monotonic ms). */
  private readonly idleSince = new WeakMap<Socket, number>();

  constructor(timeouts: Partial<HttpTimeouts> = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
    this.httpAgent = this.pooled(new http.Agent(this.agentOpts));
  }

  private get httpsAgent(): https.Agent {
    this.httpsAgentOnce ??= this.pooled(new (process.getBuiltinModule('node:https').Agent)(this.agentOpts));
    return this.httpsAgentOnce;
  }

  /** Record when each of the agent's sockets goes idle (see usable()). */
  private pooled<A extends http.Agent>(agent: A): A {
    agent.on('free', (socket: Socket) => this.idleSince.set(socket, monotonicMs()));
    return agent;
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req;
    const isHttps = url.protocol === 'https:';
    const mod: Pick<typeof http, 'request'> = isHttps ? process.getBuiltinModule('node:https') : http;
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(headersTimer);
        reject(err);
      };
      const r = mod.request(url, {
        method: req.method,
        headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal: req.signal,
      });
      // Connect deadline: a socket that does not connect in time is destroyed.
      r.on('socket', (socket) => {
        guardSocket(socket);
        if ((socket as { connecting?: boolean }).connecting) {
          const t = setTimeout(() => r.destroy(timeoutError(`connect to ${url.host} timed out`)), this.timeouts.connectMs);
          socket.once('connect', () => clearTimeout(t));
          socket.once('secureConnect', () => clearTimeout(t));
          socket.once('close', () => clearTimeout(t));
        }
      });
      const headersTimer = setTimeout(
        () => r.destroy(timeoutError(`no response from ${url.host} within ${this.timeouts.headersMs} ms`)),
        this.timeouts.headersMs,
      );
      r.on('response', (res) => {
        clearTimeout(headersTimer);
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        res.setTimeout(this.timeouts.bodyIdleMs, () => res.destroy(timeoutError(`response body from ${url.host} stalled`)));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      /** Set once the request goes out on a reused socket; before that, nothing can have arrived. */
      let written = false;
      r.on('error', (err: Error & { reusedSocket?: boolean }) => {
        // A reused socket that closed (or was refused, see usable()) before the request was written
        // ends it with "socket hang up" (ECONNRESET), which would read as "may have arrived".
        if (r.reusedSocket && !written && !req.signal?.aborted) {
          fail(notWrittenError(url));
          return;
        }
        // Tells the retry policy that an idle kept-alive socket was closed under us (nothing delivered).
        if (r.reusedSocket) err.reusedSocket = true;
        fail(err);
      });
      // Nothing is written until the socket is known: a reused one is checked first (see usable()).
      r.once('socket', (socket: Socket) => {
        if (!r.reusedSocket) {
          send();
          return;
        }
        setImmediate(() => {
          if (settled || r.destroyed) return;
          if (this.usable(socket)) send();
          else {
            socket.destroy();
            this.dropIdleSockets(isHttps ? this.httpsAgent : this.httpAgent);
            r.destroy(notWrittenError(url));
          }
        });
      });
      const send = (): void => {
        written = true;
        if (req.body !== undefined) r.end(req.body);
        else r.end();
      };
    });
  }

  /**
   * A kept-alive socket is used only if, one turn of the event loop after it was handed out (so a
   * close the server sent is seen), it is still open and has been idle for less than
   * REUSE_IDLE_LIMIT_MS. Otherwise nothing was written and the request is retried on a fresh
   * connection: a request is never written to a socket the server may be closing, so a reset
   * after writing always means "may have arrived" (and a tools/call is not sent again).
   */
  /** Close every pooled socket that is no longer usable, so the retry gets a fresh connection. */
  private dropIdleSockets(agent: http.Agent): void {
    for (const sockets of Object.values(agent.freeSockets)) {
      for (const socket of sockets ?? []) if (!this.usable(socket)) socket.destroy();
    }
  }

  private usable(socket: Socket): boolean {
    if (socket.destroyed || !socket.writable || socket.readableEnded) return false;
    const since = this.idleSince.get(socket);
    return since === undefined || monotonicMs() - since < REUSE_IDLE_LIMIT_MS;
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgentOnce?.destroy();
  }
}

/**
 * Node's http server closes an idle kept-alive connection after 5 s by default (keepAliveTimeout),
 * proxies after more: a socket idle for longer than this is not trusted with a request.
 */
const REUSE_IDLE_LIMIT_MS = 2_000;

/** Monotonic milliseconds; process.hrtime, not the global performance, which loads node:perf_hooks at start. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

function notWrittenError(url: URL): Error {
  const e = new Error(`a kept-alive connection to ${url.host} was closing; the request was not written and goes out on a fresh connection`) as Error & { code: string };
  e.code = NOT_WRITTEN;
  return e;
}

function timeoutError(message: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.code = 'ETIMEDOUT';
  return e;
}

/** Sockets that already carry the guard below (a kept-alive socket serves many requests). */
const guarded = new WeakSet<object>();

/**
 * An aborted request (the bridge closing while a response, e.g. the server's SSE stream, is still
 * being read) destroys its socket with an AbortError. Once the response is under way node:http no
 * longer listens for errors on that socket, so the error would be unhandled and end the process.
 * The request's and the response's own handlers already report every failure that matters; this
 * listener only keeps a late socket error from being fatal.
 */
function guardSocket(socket: Socket): void {
  if (guarded.has(socket)) return;
  guarded.add(socket);
  socket.on('error', () => undefined);
}

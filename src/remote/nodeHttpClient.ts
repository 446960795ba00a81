import http from 'node:http';
import https from 'node:https';
import { DEFAULT_TIMEOUTS, type HttpClient, type HttpRequest, type HttpResponse, type HttpTimeouts } from './httpClient.js';

/**
 * HTTP on node:http/https with a keep-alive pool. Chosen over undici for the hot path because it
 * costs nothing to load (undici's import alone is ~100 ms, half the start-up budget); TLS trust
 * follows Node (NODE_EXTRA_CA_CERTS works as documented).
 */
export class NodeHttpClient implements HttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeouts: HttpTimeouts;

  constructor(timeouts: Partial<HttpTimeouts> = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
    const agentOpts = { keepAlive: true, keepAliveMsecs: 15_000, maxSockets: 64, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOpts);
    this.httpsAgent = new https.Agent(agentOpts);
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req;
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
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
      r.on('error', (err: Error & { reusedSocket?: boolean }) => {
        // Tells the retry policy that an idle kept-alive socket was closed under us (nothing delivered).
        if (r.reusedSocket) err.reusedSocket = true;
        fail(err);
      });
      if (req.body !== undefined) r.end(req.body);
      else r.end();
    });
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function timeoutError(message: string): Error {
  const e = new Error(message) as Error & { code: string };
  e.code = 'ETIMEDOUT';
  return e;
}

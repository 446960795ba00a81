import { RemoteUnavailableError } from '../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../relay/jsonRpc.js';
import { prepareMessage } from '../relay/jsonEnvelope.js';
import type { HttpResponse } from './httpClient.js';
import { requestFollowingRedirects, type RedirectedResponse } from './redirects.js';
import { challengeOf } from './remoteAuth.js';
import { describeNetworkError, httpStatusError, isAuthChallenge } from './remoteErrors.js';
import type { Outgoing, RemoteTransport, TransportContext } from './remoteTransport.js';
import { consumeSse, type SseState } from './sseStream.js';

const ENDPOINT_WAIT_MS = 15_000;

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05): a GET opens an SSE stream whose first `endpoint`
 * event names the URL to POST messages to; every answer comes back on that stream.
 */
export class LegacySseTransport implements RemoteTransport {
  readonly kind = 'sse' as const;
  private postUrl?: URL;
  private connecting?: Promise<void>;
  private readonly pending = new Map<JsonRpcId, Pending>();
  private readonly abort = new AbortController();
  private closed = false;
  private endpointSeen = false;
  private initializeRaw?: string;
  private initializedRaw?: string;
  private swallowId?: JsonRpcId;

  constructor(private readonly ctx: TransportContext) {}

  /** Whether an event stream ever opened and named its POST endpoint (the server does speak HTTP+SSE). */
  get opened(): boolean {
    return this.endpointSeen;
  }

  async send(out: Outgoing): Promise<void> {
    const { msg } = out;
    if (msg.method === 'initialize') this.initializeRaw = out.raw;
    if (msg.method === 'notifications/initialized') this.initializedRaw = out.raw;
    await this.ensureStream(msg.method !== 'initialize');
    const isRequest = msg.method !== undefined && msg.id !== undefined;
    if (!isRequest) {
      await this.post(out.raw);
      return;
    }
    const id = msg.id as JsonRpcId;
    const answered = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      out.signal?.addEventListener('abort', () => {
        this.pending.delete(id);
        reject(new RemoteUnavailableError('the request was cancelled', { code: 'aborted' }));
      }, { once: true });
    });
    try {
      await this.post(out.raw);
    } catch (err) {
      this.pending.delete(id);
      throw err;
    }
    await answered;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.failPending(new RemoteUnavailableError('the bridge is shutting down', { code: 'closed' }));
  }

  /** Open the SSE stream if needed; after a drop, a new stream gets the IDE's initialize replayed. */
  private ensureStream(replayInit: boolean): Promise<void> {
    if (this.postUrl) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.connect(replayInit).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async connect(replayInit: boolean): Promise<void> {
    let authAttempt = 0;
    let res: RedirectedResponse;
    for (;;) {
      res = await this.exchange('GET', this.ctx.url);
      if (isAuthChallenge(res) && this.ctx.auth && res.finalUrl.origin === this.ctx.url.origin) {
        res.body.discard();
        await this.ctx.auth.handleChallenge(challengeOf(res), ++authAttempt, this.abort.signal);
        continue;
      }
      break;
    }
    if (res.status !== 200 || !(first(res.headers['content-type']) ?? '').startsWith('text/event-stream')) {
      throw await httpStatusError(res, this.ctx.url, this.ctx.log.redactor);
    }
    const endpoint = new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RemoteUnavailableError('the SSE gateway sent no endpoint event', { code: 'no_endpoint' })), ENDPOINT_WAIT_MS);
      void this.readStream(res, (url) => {
        clearTimeout(timer);
        resolve(url);
      }).catch(reject);
    });
    this.postUrl = await endpoint;
    this.endpointSeen = true;
    if (replayInit && this.initializeRaw) {
      const initId = (JSON.parse(this.initializeRaw) as JsonRpcMessage).id as JsonRpcId;
      this.swallowId = initId;
      const answered = new Promise<void>((resolve, reject) => this.pending.set(initId, { resolve, reject }));
      await this.post(this.initializeRaw);
      await answered;
      if (this.initializedRaw) await this.post(this.initializedRaw);
    }
  }

  private async readStream(res: HttpResponse, onEndpoint: (url: URL) => void): Promise<void> {
    const state: SseState = {};
    try {
      await consumeSse(res.body, state, async (ev) => {
        if (ev.event === 'endpoint') {
          const url = new URL(ev.data.toString('utf8').trim(), this.ctx.url);
          // The POST endpoint must stay on the gateway's origin: credentials go nowhere else.
          if (url.origin !== this.ctx.url.origin) {
            throw new RemoteUnavailableError(`the SSE gateway named a POST endpoint on another origin (${url.origin})`, { code: 'unsafe_endpoint' });
          }
          onEndpoint(url);
          return false;
        }
        if (ev.event && ev.event !== 'message') return false;
        const prepared = prepareMessage(ev.data);
        if (!prepared) return false;
        const { env } = prepared;
        const isAnswer = !env.hasMethod && env.id !== undefined && env.id !== null;
        if (isAnswer && env.id === this.swallowId) {
          this.swallowId = undefined;
        } else {
          await this.ctx.deliver(prepared.bytes, prepared.msg as JsonRpcMessage | undefined);
        }
        if (isAnswer) {
          const p = this.pending.get(env.id as JsonRpcId);
          this.pending.delete(env.id as JsonRpcId);
          p?.resolve();
        }
        return false;
      });
    } finally {
      this.postUrl = undefined;
      if (!this.closed) {
        this.ctx.log.warn('the SSE stream from the gateway closed; it will be reopened on the next message');
        this.failPending(new RemoteUnavailableError('the SSE stream from the gateway closed before the answer arrived', { code: 'stream_closed' }));
      }
    }
  }

  private async post(raw: string): Promise<void> {
    let authAttempt = 0;
    for (;;) {
      const url = this.postUrl;
      if (!url) throw new RemoteUnavailableError('the SSE stream from the gateway is closed', { code: 'stream_closed' });
      const res = await this.exchange('POST', url, raw);
      if (isAuthChallenge(res) && this.ctx.auth && res.finalUrl.origin === this.ctx.url.origin) {
        res.body.discard();
        await this.ctx.auth.handleChallenge(challengeOf(res), ++authAttempt, this.abort.signal);
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw await httpStatusError(res, url, this.ctx.log.redactor);
      res.body.discard();
      return;
    }
  }

  private async exchange(method: 'GET' | 'POST', url: URL, body?: string): Promise<RedirectedResponse> {
    const headers: Record<string, string> = { ...this.ctx.headers };
    // Authorization, and a DPoP proof for exactly this method and URL when the tokens are bound.
    if (this.ctx.auth) Object.assign(headers, await this.ctx.auth.requestHeaders({ method, url }, this.abort.signal));
    if (method === 'POST') headers['content-type'] = 'application/json';
    else headers.accept = 'text/event-stream';
    try {
      return await requestFollowingRedirects(
        this.ctx.http,
        { method, url, headers, body, signal: this.abort.signal },
        Object.keys(this.ctx.headers).map((h) => h.toLowerCase()),
      );
    } catch (err) {
      throw describeNetworkError(err, url);
    }
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function first(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

import { RemoteUnavailableError } from '../errors.js';
import { bytesBody } from './bodySource.js';
import type { JsonRpcId, JsonRpcMessage } from '../relay/jsonRpc.js';
import type { Envelope } from '../relay/envelopeScanner.js';
import { prepareMessage, SMALL_MESSAGE_BYTES } from '../relay/jsonEnvelope.js';
import { StreamedMessage } from '../relay/streamedMessage.js';
import { readBytes, type HttpResponse } from './httpClient.js';
import { requestFollowingRedirects, type RedirectedResponse } from './redirects.js';
import { challengeOf, type RequestTarget } from './remoteAuth.js';
import type { Outgoing, RemoteTransport, TransportContext } from './remoteTransport.js';
import type { LargeDataHandler } from './sseStream.js';
import { ServerStream } from './serverStream.js';
import { SessionHandshake } from './sessionHandshake.js';
import { largeEventsTo } from './largeEvents.js';
import { readAnswerStream } from './answerStream.js';
import { readJsonBody } from './jsonBodyReader.js';
import { messageLimits, type MessageLimits } from './messageLimits.js';
import { describeNetworkError, httpStatusError, isAuthChallenge } from './remoteErrors.js';
import { isIdempotentMethod, retryDelay } from './retryPolicy.js';
import { ERROR_BODY_LIMIT_BYTES, MODERN_SERVER_CODE, modernErrorOf } from './era/modernError.js';

/**
 * Thrown by the IDE's first initialize when the server may not speak Streamable HTTP (spec:
 * backwards compatibility); original is the error to report if the legacy HTTP+SSE GET fails too.
 */
export class StreamableHttpUnsupported extends Error {
  constructor(
    readonly status: number,
    readonly original: RemoteUnavailableError,
  ) {
    super(`gateway answered ${status} to a Streamable HTTP POST`);
  }
}

/** Times one request is re-sent after a 404 for its session (re-created meanwhile, by it or a concurrent request). */
const MAX_SESSION_RETRIES = 2;

/**
 * MCP Streamable HTTP client side (spec 2025-03-26 .. 2025-11-25): one POST per message, JSON or
 * SSE answers, Mcp-Session-Id, MCP-Protocol-Version after initialize, the GET stream for
 * server-initiated messages, resumption with Last-Event-ID, DELETE on close. Messages are forwarded
 * as the raw text the IDE wrote; only answers that must be routed are parsed.
 */
export class StreamableHttpTransport implements RemoteTransport {
  readonly kind = 'streamable-http' as const;
  private sessionId?: string;
  private readonly handshake = new SessionHandshake();
  private reinitializing?: Promise<void>;
  /** A re-creation of the session started and has not succeeded yet. */
  private sessionLost = false;
  private initializing?: Promise<void>;
  private closed = false;
  private readonly abort = new AbortController();
  /** True once a POST got a real MCP answer: after that 404/405 mean "session gone", not "legacy server". */
  private confirmed = false;

  /** Set while the first request after notifications/initialized waits for the server stream's answer. */
  private getStreamGate: Promise<void> | undefined;

  /** The GET stream for server-initiated messages. */
  private readonly serverStream: ServerStream;

  constructor(private readonly ctx: TransportContext) {
    const transport = this;
    this.serverStream = new ServerStream({
      ctx,
      signal: this.abort.signal,
      get closed() {
        return transport.closed;
      },
      get sessionId() {
        return transport.sessionId;
      },
      get reinitializing() {
        return transport.reinitializing;
      },
      get canReinitialize() {
        return transport.handshake.initializeRaw !== undefined;
      },
      reinitialize: () => this.reinitialize(),
      get: (lastEventId) => this.exchange('GET', undefined, lastEventId ? { 'last-event-id': lastEventId } : undefined),
      get largeMessages() {
        return transport.largeMessages(() => false);
      },
      get limits() {
        return transport.limits;
      },
    });
  }

  async send(out: Outgoing): Promise<void> {
    const { msg } = out;
    const isRequest = msg.method !== undefined && msg.id !== undefined;
    if (msg.method === 'initialize' && isRequest) {
      this.handshake.begin(out.raw);
      this.sessionId = undefined;
      this.initializing = this.post(out.raw, msg.id as JsonRpcId, { allowReinit: false, legacyProbe: true });
      try {
        await this.initializing;
      } finally {
        this.initializing = undefined;
      }
      return;
    }
    // Anything sent while initialize is in flight waits for the session id it brings.
    if (this.initializing) await this.initializing.catch(() => {});
    if (msg.method === 'notifications/initialized') return this.sendInitialized(out);
    // Requests sent after notifications/initialized wait (once, bounded) until the server's stream
    // is answered: a server that sends a request of its own (an elicitation during a tool call) on
    // a stream not yet open drops it, and the tool call then hangs.
    if (this.getStreamGate) await this.getStreamGate;
    await this.post(out.raw, isRequest ? (msg.id as JsonRpcId) : undefined, {
      allowReinit: true,
      signal: out.signal,
      idempotent: isIdempotentMethod(msg.method),
      whole: out.wholeAnswer,
    });
  }

  /**
   * notifications/initialized, then the GET stream. The gate is set before the POST, synchronously,
   * so that a request the IDE writes right behind the notification (sends are concurrent: the relay
   * does not serialise them) cannot overtake the stream's opening.
   */
  private async sendInitialized(out: Outgoing): Promise<void> {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.getStreamGate = gate;
    void gate.then(() => {
      if (this.getStreamGate === gate) this.getStreamGate = undefined;
    });
    this.handshake.initializedRaw = out.raw;
    try {
      await this.post(out.raw, undefined, { allowReinit: true, signal: out.signal, idempotent: isIdempotentMethod(out.msg.method), whole: out.wholeAnswer });
    } catch (err) {
      open();
      throw err;
    }
    // The POST's success may already have started the stream: then wait for that one's answer.
    void this.serverStream.start().then(open);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    const sessionId = this.sessionId;
    if (sessionId) {
      // Spec: clients that no longer need a session SHOULD send DELETE with the session id.
      const signal = AbortSignal.timeout(2_000);
      try {
        const res = await this.ctx.http.request({
          method: 'DELETE',
          url: this.ctx.url,
          headers: await this.headers('DELETE', undefined, signal),
          signal,
        });
        res.body.discard();
        this.ctx.log.debug(`session ${redactId(sessionId)} ended (DELETE ${res.status})`);
      } catch (err) {
        this.ctx.log.debug(`DELETE of the session failed: ${(err as Error).message}`);
      }
    }
  }

  /** POST one message and, for a request, deliver its response (following SSE resumption). */
  private async post(
    raw: string,
    requestId: JsonRpcId | undefined,
    opts: { allowReinit: boolean; swallow?: boolean; signal?: AbortSignal; idempotent?: boolean; legacyProbe?: boolean; whole?: boolean },
  ): Promise<void> {
    const signal = opts.signal ? AbortSignal.any([this.abort.signal, opts.signal]) : this.abort.signal;
    const idempotent = opts.idempotent ?? true;
    let authAttempt = 0;
    let sessionRetries = 0;
    let retries = 0;
    for (;;) {
      // Requests that arrive while the session is being re-created wait for the new session; after
      // a failed re-creation, the next request tries again.
      if (opts.allowReinit && this.reinitializing) await this.reinitializing;
      else if (opts.allowReinit && this.sessionLost) await this.reinitialize();
      const sentSession = this.sessionId;
      let res: RedirectedResponse;
      try {
        res = await this.exchange('POST', raw, undefined, signal);
      } catch (err) {
        const e = err as RemoteUnavailableError;
        const delay = signal.aborted
          ? undefined
          : retryDelay({ attempt: ++retries, idempotent, errorCode: e.networkCode, reusedSocket: e.reusedSocket, now: this.ctx.clock.now(), random: this.ctx.random() });
        if (delay === undefined) throw err;
        this.ctx.log.debug(`${e.message}; retrying in ${Math.round(delay)} ms`);
        await this.ctx.sleep(delay, signal);
        continue;
      }
      if (res.status === 429 || res.status >= 502) {
        const delay = retryDelay({
          attempt: ++retries,
          idempotent,
          status: res.status,
          retryAfter: headerValue(res.headers['retry-after']),
          now: this.ctx.clock.now(),
          random: this.ctx.random(),
        });
        if (delay !== undefined) {
          res.body.discard();
          this.ctx.log.info(`the gateway answered HTTP ${res.status}; retrying in ${Math.round(delay)} ms`);
          await this.ctx.sleep(delay, signal);
          continue;
        }
      }
      if (isAuthChallenge(res) && this.ctx.auth && res.finalUrl.origin === this.ctx.url.origin) {
        res.body.discard();
        authAttempt++;
        await this.ctx.auth.handleChallenge(
          challengeOf(res),
          authAttempt,
          this.abort.signal,
        );
        continue;
      }
      if (res.status === 404 && sentSession && opts.allowReinit && sessionRetries < MAX_SESSION_RETRIES) {
        // Spec: a 404 for a request carrying a session id means the session expired; start a new
        // one — unless a concurrent request (or the GET stream) already did: then just re-send.
        res.body.discard();
        sessionRetries++;
        if (this.sessionId === sentSession) await this.reinitialize();
        continue;
      }
      if (opts.legacyProbe && !this.confirmed && !this.sessionId && (res.status === 404 || res.status === 405 || res.status === 400)) {
        // Only the IDE's initialize may reveal a legacy HTTP+SSE server, and only with a body that
        // is not a modern server's JSON-RPC error (2026-07-28 Streamable HTTP, "Backward Compatibility").
        const body = await readBytes(res.body, ERROR_BODY_LIMIT_BYTES).catch(() => Buffer.alloc(0));
        const original = await httpStatusError({ ...res, body: bytesBody(body) }, this.ctx.url, this.ctx.log.redactor);
        if (modernErrorOf(res.status, body)) {
          throw new RemoteUnavailableError(`${original.message} (a 2026-07-28 server's answer: try --protocol auto or 2026)`, { code: MODERN_SERVER_CODE, status: res.status });
        }
        throw new StreamableHttpUnsupported(res.status, original);
      }
      if (res.status < 200 || res.status >= 300) {
        throw await httpStatusError(res, this.ctx.url, this.ctx.log.redactor);
      }
      this.confirmed = true;
      // The server stream stops on a 401/403 or a lost session; any later success brings it back.
      if (this.handshake.initializedRaw && !this.sessionLost) void this.serverStream.start();
      const sid = headerValue(res.headers['mcp-session-id']);
      if (sid && !this.sessionId) this.sessionId = sid;
      if (requestId === undefined || res.status === 202) {
        res.body.discard();
        if (requestId !== undefined) {
          throw new RemoteUnavailableError(`the gateway accepted request ${JSON.stringify(requestId)} but sent no answer`, {
            code: 'no_response',
          });
        }
        return;
      }
      const type = headerValue(res.headers['content-type']) ?? '';
      if (type.startsWith('text/event-stream')) {
        await this.readResponseStream(res, requestId, opts.swallow === true, signal, opts.whole === true);
      } else {
        const swallow = opts.swallow === true;
        const body = await readJsonBody(res.body, {
          limits: this.limits,
          streamAboveBytes: SMALL_MESSAGE_BYTES,
          open: swallow || opts.whole || this.handshake.isInitialize(requestId) ? undefined : this.openStreamedMessage(),
        });
        if ('whole' in body) await this.onJsonAnswer(body.whole, requestId, swallow);
        else if (!body.streamed || body.streamed.hasMethod || body.streamed.id !== requestId) {
          throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not its JSON-RPC answer`, { code: 'bad_answer' });
        }
      }
      return;
    }
  }

  /** One HTTP exchange with the current headers; network failures become RemoteUnavailableError. */
  private async exchange(
    method: 'POST' | 'GET',
    body?: string,
    extra?: Record<string, string>,
    signal: AbortSignal = this.abort.signal,
  ): Promise<RedirectedResponse> {
    if (this.closed) throw new RemoteUnavailableError('the bridge is shutting down', { code: 'closed' });
    const headers = await this.headers(method, extra, signal);
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers.accept = 'application/json, text/event-stream';
    } else {
      headers.accept = 'text/event-stream';
    }
    try {
      return await requestFollowingRedirects(
        this.ctx.http,
        { method, url: this.ctx.url, headers, body, signal },
        Object.keys(this.ctx.headers).map((h) => h.toLowerCase()),
      );
    } catch (err) {
      throw describeNetworkError(err, this.ctx.url);
    }
  }

  private async headers(method: RequestTarget['method'], extra: Record<string, string> | undefined, signal: AbortSignal): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...this.ctx.headers, ...extra };
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    if (this.handshake.protocolVersion) h['mcp-protocol-version'] = this.handshake.protocolVersion;
    // Authorization, and a DPoP proof for exactly this method and URL when the tokens are bound.
    if (this.ctx.auth) Object.assign(h, await this.ctx.auth.requestHeaders({ method, url: this.ctx.url }, signal));
    return h;
  }

  /** A single JSON answer to a POSTed request, forwarded as the bytes received when they are one line. */
  private async onJsonAnswer(body: Buffer, requestId: JsonRpcId, swallow: boolean): Promise<void> {
    const isInit = swallow || this.handshake.isInitialize(requestId);
    if (isInit) this.handshake.noteResult(body);
    if (swallow) return;
    const prepared = prepareMessage(body);
    // A JSON body is the answer to this request and nothing else: anything but its answer is refused,
    // so the request is answered once (by an error) instead of never.
    if (!prepared || prepared.env.hasMethod || prepared.env.id !== requestId) {
      throw new RemoteUnavailableError(`the gateway answered request ${JSON.stringify(requestId)} with a body that is not its JSON-RPC answer`, {
        code: 'bad_answer',
      });
    }
    await this.ctx.deliver(prepared.bytes, prepared.msg as JsonRpcMessage | undefined);
  }

  /** Deliver SSE events until the response to requestId arrives, resuming with Last-Event-ID if the stream drops. */
  private readResponseStream(first: HttpResponse, requestId: JsonRpcId, swallow: boolean, signal: AbortSignal, whole = false): Promise<void> {
    const initialize = swallow || this.handshake.isInitialize(requestId);
    return readAnswerStream(first, {
      ctx: this.ctx,
      requestId,
      signal,
      swallow,
      onAnswer: initialize ? (data) => this.handshake.noteResult(data) : undefined,
      large: initialize || whole ? undefined : this.largeMessages((env) => !env.hasMethod && env.id === requestId),
      limits: this.limits,
      resume: (lastEventId) => this.exchange('GET', undefined, { 'last-event-id': lastEventId }, signal),
    });
  }

  /** Large SSE events go to stdout as they arrive (under the writer's lock); isAnswer tells from their envelope whether the stream delivered what it waits for. */
  private largeMessages(isAnswer: (env: Envelope) => boolean): LargeDataHandler | undefined {
    const open = this.openStreamedMessage();
    return open && largeEventsTo(open, this.ctx.log, (env) => env !== undefined && isAnswer(env));
  }

  private get limits(): MessageLimits {
    return this.ctx.limits ?? messageLimits();
  }

  /** A factory of messages streamed to the IDE as they arrive, when the context allows streaming. */
  private openStreamedMessage(): (() => Promise<StreamedMessage>) | undefined {
    const open = this.ctx.openMessage;
    if (!open) return undefined;
    return async () => new StreamedMessage(await open(), this.ctx.log);
  }

  /** Re-create an expired session by replaying the IDE's own initialize and initialized messages. */
  private reinitialize(): Promise<void> {
    if (!this.reinitializing) {
      this.reinitializing = (async () => {
        const { initializeRaw, initializeId } = this.handshake;
        if (!initializeRaw || initializeId === undefined) throw new RemoteUnavailableError('the gateway session expired before initialize', { code: 'session_expired' });
        this.ctx.log.info('the gateway session expired; starting a new one');
        // Until the replay succeeds, the session is lost: the next request re-creates it first
        // (a failed replay must not leave every later request without a session).
        this.sessionLost = true;
        this.sessionId = undefined;
        this.handshake.restart();
        await this.post(initializeRaw, initializeId, { allowReinit: false, swallow: true });
        const { initializedRaw } = this.handshake;
        if (initializedRaw) await this.post(initializedRaw, undefined, { allowReinit: false });
        this.sessionLost = false;
        void this.serverStream.start();
      })().finally(() => {
        this.reinitializing = undefined;
      });
    }
    return this.reinitializing;
  }
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

function redactId(id: string): string {
  return id.length > 8 ? `${id.slice(0, 4)}…` : '…';
}

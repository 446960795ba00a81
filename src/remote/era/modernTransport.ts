import { RemoteUnavailableError } from '../../errors.js';
import type { JsonRpcId, JsonRpcMessage } from '../../relay/jsonRpc.js';
import type { Outgoing, RemoteTransport, TransportContext } from '../remoteTransport.js';
import { isIdempotentMethod } from '../retryPolicy.js';
import type { DiscoverResult } from './discoverProbe.js';
import { ModernErrorCodes, supportedVersionsOf, type ModernError } from './modernError.js';
import { parsedAnswer, postModern, readModernAnswer, type AnswerStreaming, type ModernAnswer } from './modernExchange.js';
import { INPUT_REQUIRED_METHODS, MAX_INPUT_ROUNDS, fulfilInputRequests, inputRequiredOf, MissingIdeCapability } from './inputRequired.js';
import { InputRequiredWatch } from './inputRequiredWatch.js';
import { legacyVersionFor, MetaKeys, pickModernVersion } from './protocolVersions.js';
import { standardHeaders } from './requestHeaders.js';
import { IdeRefused, RequestsToIde } from './requestsToIde.js';
import { SubscriptionListener, type ListenFilter } from './subscriptionListener.js';
import { ToolHeaderRegistry } from './toolHeaderRegistry.js';

export interface ModernTransportOptions {
  ctx: TransportContext;
  /** The gateway's server/discover answer. */
  discover: DiscoverResult;
  /** The 2026-07-28 revision chosen from its supported versions. */
  version: string;
  /**
   * translate: a 2025 IDE (initialize, session semantics) in front of a 2026-07-28 gateway.
   * passthrough: an IDE that speaks 2026-07-28 itself; its messages go as they are, with the
   * HTTP headers the body implies.
   */
  mode: 'translate' | 'passthrough';
}

/** What the IDE said about itself in initialize. */
interface IdeIdentity {
  capabilities: Record<string, unknown>;
  clientInfo?: unknown;
}

/**
 * The 2026-07-28 side of the bridge: stateless POSTs, one per request, each carrying the
 * per-request `_meta` and the headers the body implies; no session, no GET stream, no DELETE.
 * For a 2025 IDE it plays the server the IDE expects: initialize is answered from server/discover,
 * ping / logging/setLevel / resources/(un)subscribe locally, input_required rounds become ordinary
 * requests to the IDE, and subscriptions/listen stands in for the GET stream.
 */
export class ModernTransport implements RemoteTransport {
  readonly kind = 'streamable-http' as const;
  private version: string;
  private ide: IdeIdentity = { capabilities: {} };
  private logLevel?: string;
  private readonly subscribedUris = new Set<string>();
  private readonly tools: ToolHeaderRegistry;
  private readonly toIde: RequestsToIde;
  private readonly listener: SubscriptionListener;
  private readonly abort = new AbortController();
  private retryCounter = 0;
  private initialized = false;

  constructor(private readonly opts: ModernTransportOptions) {
    this.version = opts.version;
    this.tools = new ToolHeaderRegistry(opts.ctx.log);
    this.toIde = new RequestsToIde(opts.ctx.deliver);
    this.listener = new SubscriptionListener(opts.ctx, this.abort.signal, (id, filter) => {
      const params = this.withMeta({ notifications: filter });
      return { body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params }), headers: standardHeaders('subscriptions/listen', params, this.version), idempotent: true };
    });
  }

  async send(out: Outgoing): Promise<void> {
    const { msg } = out;
    if (msg.method === undefined) {
      if (!this.toIde.settle(msg)) this.opts.ctx.log.debug(`dropped an answer from the client to ${JSON.stringify(msg.id)}: nothing asked for it`);
      return;
    }
    if (msg.id === undefined || msg.id === null) return this.onNotification(msg);
    const id = msg.id;
    if (this.opts.mode === 'passthrough') return this.passthrough(out, id);
    switch (msg.method) {
      case 'initialize':
        return this.answer(id, this.initializeResult(msg.params));
      case 'ping':
        return this.answer(id, {});
      case 'logging/setLevel': {
        // 2026-07-28 has no logging/setLevel: the level rides on every later request's _meta.
        const level = (msg.params as { level?: unknown } | undefined)?.level;
        if (typeof level === 'string') this.logLevel = level;
        return this.answer(id, {});
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = (msg.params as { uri?: unknown } | undefined)?.uri;
        if (typeof uri === 'string') {
          if (msg.method === 'resources/subscribe') this.subscribedUris.add(uri);
          else this.subscribedUris.delete(uri);
          this.listen();
        }
        return this.answer(id, {});
      }
      default:
        return this.translate(out, id);
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.listener.stop();
    this.toIde.failAll(new RemoteUnavailableError('the bridge is shutting down', { code: 'closed' }));
  }

  private onNotification(msg: JsonRpcMessage): void {
    // notifications/cancelled: the relay aborts the request's signal, which closes its response
    // stream: that is the 2026-07-28 cancellation. 2026-07-28 defines no other client notification
    // over HTTP (notifications/roots/list_changed was removed).
    if (msg.method === 'notifications/initialized' && this.opts.mode === 'translate') {
      this.initialized = true;
      this.listen();
      return;
    }
    this.opts.ctx.log.debug(`${msg.method} is not sent to a 2026-07-28 gateway`);
  }

  /** The 2025 InitializeResult a 2025 IDE expects, made from the gateway's server/discover answer. */
  private initializeResult(params: unknown): Record<string, unknown> {
    const p = (params ?? {}) as { protocolVersion?: unknown; capabilities?: unknown; clientInfo?: unknown };
    this.ide = { capabilities: (p.capabilities as Record<string, unknown> | undefined) ?? {}, clientInfo: p.clientInfo };
    const d = this.opts.discover;
    const serverInfo = d.serverInfo ?? (d._meta as Record<string, unknown> | undefined)?.[MetaKeys.serverInfo] ?? { name: this.opts.ctx.url.host, version: 'unknown' };
    const capabilities = { ...(d.capabilities ?? {}) } as Record<string, unknown>;
    // Resource subscriptions are served through subscriptions/listen.
    if (capabilities.resources && typeof capabilities.resources === 'object') capabilities.resources = { ...(capabilities.resources as object), subscribe: true };
    return {
      protocolVersion: legacyVersionFor(p.protocolVersion),
      capabilities,
      serverInfo,
      ...(typeof d.instructions === 'string' ? { instructions: d.instructions } : {}),
    };
  }

  /** Open (or re-aim) the listen stream at what a 2025 IDE would get pushed by this server. */
  private listen(): void {
    if (!this.initialized) return;
    const caps = (this.opts.discover.capabilities ?? {}) as Record<string, { listChanged?: unknown } | undefined>;
    const filter: ListenFilter = {};
    if (caps.tools?.listChanged) filter.toolsListChanged = true;
    if (caps.prompts?.listChanged) filter.promptsListChanged = true;
    if (caps.resources?.listChanged) filter.resourcesListChanged = true;
    if (this.subscribedUris.size > 0) filter.resourceSubscriptions = [...this.subscribedUris];
    this.listener.update(filter);
  }

  /** The IDE's params with the per-request _meta (the IDE's own _meta kept, progressToken with it). */
  private withMeta(params: unknown): Record<string, unknown> {
    const p = (params && typeof params === 'object' && !Array.isArray(params) ? params : {}) as Record<string, unknown>;
    const own = (p._meta && typeof p._meta === 'object' ? p._meta : {}) as Record<string, unknown>;
    const meta: Record<string, unknown> = {
      ...own,
      [MetaKeys.protocolVersion]: this.version,
      [MetaKeys.clientCapabilities]: this.ide.capabilities,
    };
    if (this.ide.clientInfo !== undefined) meta[MetaKeys.clientInfo] = this.ide.clientInfo;
    if (this.logLevel !== undefined) meta[MetaKeys.logLevel] = this.logLevel;
    return { ...p, _meta: meta };
  }

  /** A 2025 IDE's request, translated: _meta and headers, input_required rounds, one answer under its own id. */
  private async translate(out: Outgoing, id: JsonRpcId): Promise<void> {
    const method = out.msg.method!;
    const baseParams = out.msg.params;
    let extra: Record<string, unknown> = {};
    let wireId: JsonRpcId = id;
    const urlElicitations: string[] = [];
    for (let round = 0; ; round++) {
      const params = { ...this.withMeta(baseParams), ...extra };
      // A large answer goes to the IDE as it arrives unless its id must be rewritten (a retry).
      const answer = await this.call(method, params, wireId, out.signal, wireId === id && this.mayStream(out));
      const parsed = INPUT_REQUIRED_METHODS.has(method) && mayBeInputRequired(answer) ? parsedAnswer(answer) : undefined;
      const input = parsed ? inputRequiredOf(parsed.result) : undefined;
      if (!input) {
        await this.deliverAnswer(answer, id, wireId, method, parsed);
        for (const elicitationId of urlElicitations) {
          await this.opts.ctx.deliver(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId } }));
        }
        return;
      }
      if (round + 1 >= MAX_INPUT_ROUNDS) {
        return this.fail(id, -32603, `the gateway still needed more input after ${MAX_INPUT_ROUNDS} rounds; gave up`);
      }
      try {
        const fulfilled = await fulfilInputRequests({
          input,
          ideCapabilities: this.ide.capabilities,
          ask: (m, p) => this.toIde.ask(m, p, out.signal),
        });
        urlElicitations.push(...fulfilled.urlElicitations);
        // Only this request's retry carries them (MRTR: never any other request); requestState
        // goes back exactly as received, and not at all when none came.
        extra = { inputResponses: fulfilled.responses, ...(input.requestState !== undefined ? { requestState: input.requestState } : {}) };
      } catch (err) {
        if (err instanceof IdeRefused) return this.fail(id, err.error.code, err.error.message, err.error.data);
        if (err instanceof MissingIdeCapability) return this.fail(id, ModernErrorCodes.MissingRequiredClientCapability, `mcp-keybridge: ${err.message}`);
        throw err;
      }
      // A retry is a new request: a new JSON-RPC id (MRTR, client requirements).
      wireId = `keybridge-retry-${++this.retryCounter}`;
    }
  }

  /** A 2026-07-28 IDE's own request: relayed as it is, with the headers its body implies. */
  private async passthrough(out: Outgoing, id: JsonRpcId): Promise<void> {
    const method = out.msg.method!;
    const own = (out.msg.params as { _meta?: Record<string, unknown> } | undefined)?._meta?.[MetaKeys.protocolVersion];
    const version = typeof own === 'string' ? own : this.version;
    const answer = await this.exchange({ method, params: out.msg.params, id, raw: out.raw, version, signal: out.signal, toIde: this.mayStream(out) });
    await this.deliverAnswer(answer, id, id, method, undefined);
  }

  /**
   * One request on the wire, with the recoveries the spec asks of a client: an unsupported
   * version is retried once with one the gateway lists; a header mismatch on tools/call re-lists
   * the tools (their x-mcp-header designations may have changed) and is retried once.
   */
  private async call(method: string, params: Record<string, unknown>, id: JsonRpcId, signal: AbortSignal | undefined, toIde: boolean): Promise<ModernAnswer> {
    let answer = await this.exchange({ method, params, id, version: this.version, signal, toIde });
    const err = modernErrorIn(answer);
    if (err?.code === ModernErrorCodes.UnsupportedProtocolVersion) {
      const next = pickModernVersion(supportedVersionsOf(err) ?? []);
      if (next) {
        this.version = next;
        const retried = { ...params, _meta: { ...(params._meta as object), [MetaKeys.protocolVersion]: next } };
        answer = await this.exchange({ method, params: retried, id, version: next, signal, toIde });
      }
    } else if (err?.code === ModernErrorCodes.HeaderMismatch && method === 'tools/call') {
      this.opts.ctx.log.info('the gateway reported a header mismatch; listing its tools again and retrying once');
      await this.relistTools(signal);
      answer = await this.exchange({ method, params, id, version: this.version, signal, toIde });
    }
    return answer;
  }

  /** Whether the answer to this IDE request may go to the IDE as it arrives: not when it is read whole (tools/list, the policy's lists). */
  private mayStream(out: Outgoing): boolean {
    return out.msg.method !== 'tools/list' && out.wholeAnswer !== true;
  }

  /** toIde: a large 2xx answer may be written to the IDE as it arrives (see AnswerToIde). */
  private async exchange(req: { method: string; params: unknown; id: JsonRpcId; version: string; raw?: string; signal?: AbortSignal; toIde?: boolean }): Promise<ModernAnswer> {
    const body = req.raw ?? JSON.stringify({ jsonrpc: '2.0', id: req.id, method: req.method, params: req.params });
    const headers = standardHeaders(req.method, req.params, req.version);
    if (req.method === 'tools/call') {
      const p = req.params as { name?: unknown; arguments?: unknown } | undefined;
      Object.assign(headers, this.tools.headersFor(p?.name, p?.arguments));
    }
    const res = await postModern(this.opts.ctx, { body, headers, idempotent: isIdempotentMethod(req.method), signal: req.signal }, this.abort.signal);
    const open = this.opts.ctx.openMessage;
    const streaming: AnswerStreaming | undefined = req.toIde && open
      ? { open, mayAskForInput: this.opts.mode === 'translate' && INPUT_REQUIRED_METHODS.has(req.method) }
      : undefined;
    return readModernAnswer(this.opts.ctx, res, req.id, (prepared) => Promise.resolve(this.opts.ctx.deliver(prepared.bytes, prepared.msg as JsonRpcMessage | undefined)), streaming);
  }

  /** tools/list again (every page, bounded) only to refresh the x-mcp-header designations. */
  private async relistTools(signal?: AbortSignal): Promise<void> {
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const params = this.withMeta(cursor === undefined ? {} : { cursor });
      const answer = await this.exchange({ method: 'tools/list', params, id: `keybridge-tools-${++this.retryCounter}`, version: this.version, signal });
      const result = parsedAnswer(answer).result as { nextCursor?: unknown } | undefined;
      this.tools.admit(result);
      if (typeof result?.nextCursor !== 'string') return;
      cursor = result.nextCursor;
    }
  }

  /**
   * Hand the final answer to the IDE under its own id: the bytes received when nothing needs
   * changing (the common case: no parse of a large result), re-serialized when the id, the tool
   * list or an error code must be translated.
   */
  private async deliverAnswer(answer: ModernAnswer, ideId: JsonRpcId, wireId: JsonRpcId, method: string, parsed?: JsonRpcMessage): Promise<void> {
    if ('streamed' in answer) return; // written as it arrived (only ever under the IDE's own id)
    const needsToolFilter = method === 'tools/list';
    const mapsError = this.opts.mode === 'translate' && method === 'resources/read' && answer.status !== 200;
    if (!needsToolFilter && !mapsError && wireId === ideId && answer.prepared.env.id === ideId) {
      await this.opts.ctx.deliver(answer.prepared.bytes, answer.prepared.msg as JsonRpcMessage | undefined);
      return;
    }
    const msg: JsonRpcMessage = { ...(parsed ?? parsedAnswer(answer)), id: ideId };
    let changed = wireId !== ideId;
    if (needsToolFilter && msg.result !== undefined) {
      const admitted = this.tools.admit(msg.result);
      if (admitted.removed > 0) {
        msg.result = admitted.result;
        changed = true;
      }
    }
    const err = msg.error as ModernError | undefined;
    if (mapsError && err?.code === -32602 && typeof (err.data as { uri?: unknown } | undefined)?.uri === 'string') {
      // Resource not found is -32602 from 2026-07-28 on, -32002 before (changelog, minor change 6).
      msg.error = { ...err, code: -32002 } as JsonRpcMessage['error'];
      changed = true;
    }
    if (!changed) await this.opts.ctx.deliver(answer.prepared.bytes, answer.prepared.msg as JsonRpcMessage | undefined);
    else await this.opts.ctx.deliver(JSON.stringify(msg), msg);
  }

  private async answer(id: JsonRpcId, result: unknown): Promise<void> {
    const msg: JsonRpcMessage = { jsonrpc: '2.0', id, result };
    await this.opts.ctx.deliver(JSON.stringify(msg), msg);
  }

  private async fail(id: JsonRpcId, code: number, message: string, data?: unknown): Promise<void> {
    const msg: JsonRpcMessage = { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
    await this.opts.ctx.deliver(JSON.stringify(msg), msg);
  }
}

/** Whether an answer may be input_required: small ones are parsed already, large held ones are checked for the word (see InputRequiredWatch), streamed ones were. */
function mayBeInputRequired(a: ModernAnswer): boolean {
  if ('streamed' in a) return false;
  if (a.prepared.msg) return (a.prepared.msg.result as { resultType?: unknown } | undefined)?.resultType === 'input_required';
  const watch = new InputRequiredWatch();
  watch.push(a.prepared.bytes);
  return watch.maybe;
}

function modernErrorIn(a: ModernAnswer): ModernError | undefined {
  if (a.status !== 400 || 'streamed' in a) return undefined;
  const e = (a.prepared.msg as JsonRpcMessage | undefined)?.error;
  return e ? { code: e.code, message: e.message, data: e.data } : undefined;
}


import { RemoteUnavailableError } from '../../errors.js';
import type { JsonRpcMessage } from '../../relay/jsonRpc.js';
import type { Outgoing, RemoteTransport, TransportContext, TransportKind } from '../remoteTransport.js';
import { answerBeforeInitialize } from './beforeInitialize.js';
import { MODERN_SERVER_CODE } from './modernError.js';
import { discoverRequest, probeEra, type EraVerdict, type ProbeRequest } from './discoverProbe.js';
import type { EraCache } from './eraCache.js';
import { ModernTransport } from './modernTransport.js';
import { MetaKeys, MODERN_VERSION } from './protocolVersions.js';

/** --protocol: detect the gateway's era (auto), or take it as given. */
export type ProtocolChoice = 'auto' | '2025' | '2026';

export interface EraRouterOptions {
  choice: ProtocolChoice;
  ctx: TransportContext;
  /** The 2025-era remote (initialize + session over Streamable HTTP, or legacy HTTP+SSE). */
  legacy: () => RemoteTransport;
  /** Eras remembered between runs; absent: probe every time. */
  cache?: EraCache;
}


/**
 * The remote the relay talks to: it finds out which protocol era the gateway speaks and hands
 * every message to that era's transport. Until that is decided nothing reaches the gateway except
 * the probe: the IDE's initialize triggers it (answered from server/discover for a 2026-07-28
 * gateway, relayed as it is to a 2025 one), so does a 2026 IDE's own server/discover; other
 * early messages are answered as a 2025 server would (see answerBeforeInitialize). Once routed,
 * a message costs one property read here: the 2025 hot path is the 2025 transport.
 */
export class EraRouter implements RemoteTransport {
  private route?: RemoteTransport;
  private deciding?: Promise<void>;
  /** A verdict from an early probe (the IDE's server/discover) that the coming initialize reuses. */
  private verdict?: EraVerdict;
  private readonly shutdown = new AbortController();
  private probeCounter = 0;

  constructor(private readonly opts: EraRouterOptions) {}

  get kind(): TransportKind {
    return this.route?.kind ?? 'streamable-http';
  }

  /** The era in use, once decided. */
  get era(): 'legacy' | 'modern' | undefined {
    if (!this.route) return undefined;
    return this.route instanceof ModernTransport ? 'modern' : 'legacy';
  }

  async send(out: Outgoing): Promise<void> {
    if (this.route) return this.route.send(out);
    if (this.deciding) {
      await this.deciding.catch(() => undefined);
      if (this.route) return (this.route as RemoteTransport).send(out);
    }
    const { msg } = out;
    if (msg.method === 'initialize' && msg.id !== undefined) return this.decideThenSend(out, () => this.forInitialize(out));
    if (msg.method === 'server/discover' && msg.id !== undefined && this.opts.choice !== '2025') return this.earlyDiscover(out);
    if (msg.method !== 'ping' && msg.id !== undefined && this.opts.choice !== '2025' && hasModernMeta(msg)) {
      // A 2026-07-28 IDE that skipped server/discover: find the era with a probe of our own.
      return this.decideThenSend(out, () => this.forModernIde(out));
    }
    const early = answerBeforeInitialize(msg);
    if (early.kind === 'drop') {
      this.opts.ctx.log.debug(`dropped: ${early.why}`);
      return;
    }
    this.opts.ctx.log.debug(`answered ${msg.method} locally: it arrived before initialize`);
    await this.opts.ctx.deliver(JSON.stringify(early.message), early.message);
  }

  async close(): Promise<void> {
    this.shutdown.abort();
    await this.route?.close();
  }

  private async decideThenSend(out: Outgoing, decide: () => Promise<RemoteTransport | 'answered'>): Promise<void> {
    let chosen: RemoteTransport | 'answered' | undefined;
    this.deciding = (async () => {
      chosen = await decide();
      if (chosen !== 'answered') this.route = chosen;
    })();
    try {
      await this.deciding;
    } finally {
      this.deciding = undefined;
    }
    if (chosen && chosen !== 'answered') await this.sendOnRoute(out);
  }

  /** The first message on a freshly chosen route; a cached 2025 verdict that no longer holds is re-probed once. */
  private async sendOnRoute(out: Outgoing): Promise<void> {
    try {
      await this.route!.send(out);
    } catch (err) {
      if (!(err instanceof RemoteUnavailableError && err.code === MODERN_SERVER_CODE) || this.opts.choice !== 'auto') throw err;
      this.opts.ctx.log.info('the gateway now answers as a 2026-07-28 server; detecting its protocol again');
      await this.route!.close();
      this.route = undefined;
      await this.opts.cache?.write(this.opts.ctx.url, undefined);
      const verdict = await this.probe(out.msg);
      if (verdict.era !== 'modern') throw err;
      this.route = this.modern(verdict, 'translate');
      await this.route.send(out);
    }
  }

  /** The IDE's initialize: which transport serves this session. */
  private async forInitialize(out: Outgoing): Promise<RemoteTransport> {
    const { choice, cache, ctx } = this.opts;
    if (choice === '2025') return this.opts.legacy();
    let verdict = this.verdict;
    if (!verdict && choice === 'auto') {
      const cached = await cache?.read(ctx.url);
      if (cached?.era === 'legacy') {
        ctx.log.debug('the gateway speaks a 2025 revision (remembered); relaying initialize');
        return this.opts.legacy();
      }
    }
    verdict ??= await this.probe(out.msg);
    if (verdict.era === 'modern') return this.modern(verdict, 'translate');
    if (choice === '2026') {
      throw new RemoteUnavailableError(`the gateway does not speak MCP ${MODERN_VERSION} (${verdict.why}); drop --protocol 2026`, { code: 'protocol_unsupported' });
    }
    ctx.log.debug(`the gateway speaks a 2025 revision (${verdict.why}); relaying initialize`);
    return this.opts.legacy();
  }

  /** A 2026 IDE's own server/discover before any initialize: it is the probe. */
  private async earlyDiscover(out: Outgoing): Promise<void> {
    const { msg } = out;
    const params = (msg.params ?? {}) as Record<string, unknown>;
    const meta = (params._meta ?? {}) as Record<string, unknown>;
    const probe: ProbeRequest = {
      id: msg.id as string | number,
      params: { ...params, _meta: { [MetaKeys.protocolVersion]: MODERN_VERSION, [MetaKeys.clientCapabilities]: {}, ...meta } },
    };
    let verdict: EraVerdict;
    this.deciding = (async () => {
      verdict = await this.probeWith(probe);
    })();
    try {
      await this.deciding;
    } finally {
      this.deciding = undefined;
    }
    if (verdict!.era === 'modern') {
      // The IDE speaks 2026-07-28 itself: from now on its messages are relayed as they are.
      this.route = this.modern(verdict!, 'passthrough');
      const answer = verdict!.answer.prepared;
      await this.opts.ctx.deliver(answer.bytes, answer.msg as JsonRpcMessage | undefined);
      return;
    }
    this.verdict = verdict!;
    const early = answerBeforeInitialize(msg);
    if (early.kind === 'answer') await this.opts.ctx.deliver(JSON.stringify(early.message), early.message);
  }

  private async forModernIde(out: Outgoing): Promise<RemoteTransport | 'answered'> {
    const verdict = await this.probe(out.msg);
    if (verdict.era === 'modern') return this.modern(verdict, 'passthrough');
    this.verdict = verdict;
    const early = answerBeforeInitialize(out.msg);
    if (early.kind === 'answer') await this.opts.ctx.deliver(JSON.stringify(early.message), early.message);
    return 'answered';
  }

  /** A bridge-made probe on behalf of this IDE message's client. */
  private probe(msg: JsonRpcMessage): Promise<EraVerdict> {
    const p = (msg.params ?? {}) as { capabilities?: unknown; clientInfo?: unknown; _meta?: Record<string, unknown> };
    const caps = p.capabilities ?? p._meta?.[MetaKeys.clientCapabilities];
    const info = p.clientInfo ?? p._meta?.[MetaKeys.clientInfo];
    return this.probeWith(discoverRequest(`keybridge-discover-${++this.probeCounter}`, caps, info));
  }

  private async probeWith(probe: ProbeRequest): Promise<EraVerdict> {
    const verdict = await probeEra(this.opts.ctx, probe, this.shutdown.signal);
    if (this.opts.cache && (verdict.era === 'modern' || verdict.sure)) {
      await this.opts.cache.write(this.opts.ctx.url, {
        era: verdict.era,
        ...(verdict.era === 'modern' ? { version: verdict.version } : {}),
        checkedAt: this.opts.ctx.clock.now(),
      });
    }
    if (verdict.era === 'modern') this.opts.ctx.log.debug(`the gateway speaks MCP ${verdict.version}; translating for a 2025 client where needed`);
    return verdict;
  }

  private modern(verdict: Extract<EraVerdict, { era: 'modern' }>, mode: 'translate' | 'passthrough'): ModernTransport {
    return new ModernTransport({ ctx: this.opts.ctx, discover: verdict.discover, version: verdict.version, mode });
  }
}

function hasModernMeta(msg: JsonRpcMessage): boolean {
  const meta = (msg.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  return typeof meta?.[MetaKeys.protocolVersion] === 'string';
}

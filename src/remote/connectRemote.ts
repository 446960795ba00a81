import { LegacySseTransport } from './legacySse.js';
import type { Outgoing, RemoteTransport, TransportChoice, TransportContext, TransportKind } from './remoteTransport.js';
import { StreamableHttpTransport, StreamableHttpUnsupported } from './streamableHttp.js';
import { RemoteUnavailableError } from '../errors.js';
import { EraRouter, type ProtocolChoice } from './era/eraRouter.js';
import type { EraCache } from './era/eraCache.js';

/**
 * The remote transport for a --transport choice. auto = Streamable HTTP first; if the IDE's
 * initialize gets 400/404/405 with a body that is not a modern server's JSON-RPC error, try the
 * legacy HTTP+SSE transport, as the spec's backwards-compatibility section describes; when no
 * SSE stream opens either, the IDE gets the POST's own error.
 */
export function connectRemote(choice: TransportChoice, ctx: TransportContext, era: RemoteEraOptions = {}): RemoteTransport {
  // HTTP+SSE is a 2024-11-05 transport: nothing to detect.
  const protocol = choice === 'sse' ? '2025' : (era.protocol ?? 'auto');
  return new EraRouter({ choice: protocol, ctx, legacy: () => legacyTransport(choice, ctx), cache: era.cache });
}

/** How the protocol era is chosen (--protocol) and where it is remembered. */
export interface RemoteEraOptions {
  protocol?: ProtocolChoice;
  cache?: EraCache;
}

/** The 2025-era transport for a --transport choice. */
function legacyTransport(choice: TransportChoice, ctx: TransportContext): RemoteTransport {
  if (choice === 'sse') return new LegacySseTransport(ctx);
  const streamable = new StreamableHttpTransport(ctx);
  if (choice === 'streamable-http') return strictStreamable(streamable);
  return new AutoTransport(ctx, streamable);
}

function strictStreamable(t: StreamableHttpTransport): RemoteTransport {
  return {
    kind: 'streamable-http',
    async send(out) {
      try {
        await t.send(out);
      } catch (err) {
        if (err instanceof StreamableHttpUnsupported) {
          throw new RemoteUnavailableError(
            `${err.message}: the gateway may only speak the legacy HTTP+SSE transport (try --transport sse or auto)`,
            { code: 'transport_unsupported', status: err.status },
          );
        }
        throw err;
      }
    },
    close: () => t.close(),
  };
}

class AutoTransport implements RemoteTransport {
  private current: RemoteTransport;
  constructor(
    private readonly ctx: TransportContext,
    streamable: StreamableHttpTransport,
  ) {
    this.current = streamable;
  }

  get kind(): TransportKind {
    return this.current.kind;
  }

  async send(out: Outgoing): Promise<void> {
    try {
      await this.current.send(out);
    } catch (err) {
      if (!(err instanceof StreamableHttpUnsupported)) throw err;
      await this.current.close();
      const legacy = new LegacySseTransport(this.ctx);
      this.current = legacy;
      try {
        await legacy.send(out);
      } catch (sseErr) {
        if (legacy.opened) throw sseErr;
        // No HTTP+SSE stream either: the POST's own answer is what the user needs to see (a
        // Streamable HTTP server refusing this initialize), and the next initialize starts over.
        this.ctx.log.debug(`the legacy HTTP+SSE GET failed too: ${(sseErr as Error).message}`);
        await legacy.close();
        this.current = new StreamableHttpTransport(this.ctx);
        throw err.original;
      }
      this.ctx.log.info(`the gateway does not speak Streamable HTTP (HTTP ${err.status}); using the legacy HTTP+SSE transport`);
    }
  }

  close(): Promise<void> {
    return this.current.close();
  }
}

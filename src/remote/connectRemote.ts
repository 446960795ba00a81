import { LegacySseTransport } from './legacySse.js';
import type { Outgoing, RemoteTransport, TransportChoice, TransportContext, TransportKind } from './remoteTransport.js';
import { StreamableHttpTransport, StreamableHttpUnsupported } from './streamableHttp.js';
import { RemoteUnavailableError } from '../errors.js';

/**
 * The remote transport for a --transport choice. auto = Streamable HTTP first; if the very first
 * POST (initialize) gets 400/404/405, fall back to the legacy HTTP+SSE transport, as the spec's
 * backwards-compatibility section describes.
 */
export function connectRemote(choice: TransportChoice, ctx: TransportContext): RemoteTransport {
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
      this.ctx.log.info(`the gateway does not speak Streamable HTTP (HTTP ${err.status}); using the legacy HTTP+SSE transport`);
      await this.current.close();
      this.current = new LegacySseTransport(this.ctx);
      await this.current.send(out);
    }
  }

  close(): Promise<void> {
    return this.current.close();
  }
}

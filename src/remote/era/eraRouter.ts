import type { Logger } from '../../log/logger.js';
import type { Deliver, Outgoing, RemoteTransport, TransportKind } from '../remoteTransport.js';
import { answerBeforeInitialize } from './beforeInitialize.js';

export interface EraRouterOptions {
  /** The 2025-era remote (initialize + session over Streamable HTTP, or legacy HTTP+SSE). */
  legacy: RemoteTransport;
  deliver: Deliver;
  log: Logger;
}

/**
 * The remote the relay talks to: it decides which protocol era carries each message from the IDE.
 * Until the IDE's initialize, nothing is forwarded (see answerBeforeInitialize); from then on the
 * 2025-era transport carries everything, untouched.
 */
export class EraRouter implements RemoteTransport {
  private initializeSeen = false;

  constructor(private readonly opts: EraRouterOptions) {}

  get kind(): TransportKind {
    return this.opts.legacy.kind;
  }

  async send(out: Outgoing): Promise<void> {
    if (!this.initializeSeen) {
      if (out.msg.method === 'initialize' && out.msg.id !== undefined) {
        this.initializeSeen = true;
      } else {
        const early = answerBeforeInitialize(out.msg);
        if (early.kind === 'drop') {
          this.opts.log.debug(`dropped: ${early.why}`);
          return;
        }
        this.opts.log.debug(`answered ${out.msg.method} locally: it arrived before initialize`);
        await this.opts.deliver(JSON.stringify(early.message), early.message);
        return;
      }
    }
    await this.opts.legacy.send(out);
  }

  close(): Promise<void> {
    return this.opts.legacy.close();
  }
}

import type { Logger } from '../log/logger.js';
import type { Envelope } from '../relay/envelopeScanner.js';
import { SMALL_MESSAGE_BYTES } from '../relay/jsonEnvelope.js';
import type { LargeDataHandler } from './sseStream.js';

/** Where the data of one large SSE event goes as it arrives (a StreamedMessage, or an era's answer sink). */
export interface LargeEventSink {
  write(piece: Buffer): void | Promise<void>;
  lineBreak(): void | Promise<void>;
  abort(): void | Promise<void>;
  /** The event is complete: its envelope, when it is one well-formed message. */
  end(): Promise<Envelope | undefined>;
}

/**
 * SSE "message" events with a data line past SMALL_MESSAGE_BYTES go to a sink as they arrive
 * instead of being joined and held. `ended` is told each such event's envelope (and its sink) and
 * says whether the stream has delivered what it was waiting for (true stops reading it).
 */
export function largeEventsTo<S extends LargeEventSink>(
  open: () => Promise<S>,
  log: Logger,
  ended: (env: Envelope | undefined, sink: S) => boolean,
): LargeDataHandler {
  return {
    thresholdBytes: SMALL_MESSAGE_BYTES,
    begin: async (eventType) => {
      if (eventType !== undefined && eventType !== 'message') return undefined;
      const sink = await open();
      return {
        write: (piece) => sink.write(piece),
        lineBreak: () => sink.lineBreak(),
        abort: () => sink.abort(),
        end: async (ev) => {
          const env = await sink.end();
          if (ev.event !== undefined && ev.event !== 'message') {
            log.warn(`the gateway named a large event "${ev.event}" only after its data; it was relayed as a message`);
          }
          return ended(env, sink);
        },
      };
    },
  };
}

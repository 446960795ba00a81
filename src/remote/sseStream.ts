import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseState {
  /** Last event id seen (for resumption with Last-Event-ID). */
  lastEventId?: string;
  /** Reconnection delay the server asked for with the `retry` field, in ms. */
  retryMs?: number;
}

/**
 * Read an SSE body event by event, awaiting the handler for each so a slow consumer slows the
 * reading (backpressure) instead of buffering whole streams. Resolves when the body ends; returns
 * true if the handler asked to stop early.
 */
export async function consumeSse(
  body: Readable,
  state: SseState,
  onEvent: (ev: EventSourceMessage) => boolean | void | Promise<boolean | void>,
): Promise<boolean> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({
    onEvent: (ev) => {
      queue.push(ev);
    },
    onRetry: (ms) => {
      state.retryMs = ms;
    },
  });
  const decoder = new StringDecoder('utf8');
  for await (const chunk of body) {
    parser.feed(decoder.write(chunk as Buffer));
    while (queue.length > 0) {
      const ev = queue.shift()!;
      if (ev.id !== undefined) state.lastEventId = ev.id;
      if ((await onEvent(ev)) === true) {
        body.destroy();
        return true;
      }
    }
  }
  parser.feed(decoder.end());
  return false;
}

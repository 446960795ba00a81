import type { Readable } from 'node:stream';

export interface SseState {
  /** Last event id seen (for resumption with Last-Event-ID). */
  lastEventId?: string;
  /** Reconnection delay the server asked for with the `retry` field, in ms. */
  retryMs?: number;
}

/** One dispatched server-sent event; data stays bytes so a large message is never decoded to a string. */
export interface SseEvent {
  event?: string;
  id?: string;
  data: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const NEWLINE = Buffer.from('\n');

/**
 * Read an SSE body event by event (WHATWG "event stream interpretation"), awaiting the handler for
 * each so a slow consumer slows the reading (backpressure). Works on bytes: a data line that spans
 * many chunks is joined once, and event data is handed over as a Buffer. Resolves when the body
 * ends, or with true as soon as the handler returns true; the rest of the body is then drained in
 * the background (bounded) so the keep-alive connection can be reused.
 */
export async function consumeSse(
  body: Readable,
  state: SseState,
  onEvent: (ev: SseEvent) => boolean | void | Promise<boolean | void>,
): Promise<boolean> {
  let partial: Buffer[] = [];
  let partialSize = 0;
  let dataParts: Buffer[] = [];
  let eventType: string | undefined;
  let eventId: string | undefined;

  /** Handle one complete line; returns an event when the line is blank and data was buffered. */
  const onLine = (line: Buffer): SseEvent | undefined => {
    if (line.length === 0) {
      if (dataParts.length === 0) {
        eventType = undefined;
        return undefined;
      }
      const data = dataParts.length === 1 ? dataParts[0]! : Buffer.concat(interleave(dataParts));
      const ev: SseEvent = { data, event: eventType, id: eventId };
      dataParts = [];
      eventType = undefined;
      return ev;
    }
    if (line[0] === COLON) return undefined; // comment / keep-alive
    const colon = line.indexOf(COLON);
    const field = (colon === -1 ? line : line.subarray(0, colon)).toString('latin1');
    let value = colon === -1 ? Buffer.alloc(0) : line.subarray(colon + 1);
    if (value[0] === SPACE) value = value.subarray(1);
    switch (field) {
      case 'data':
        dataParts.push(value);
        break;
      case 'event':
        eventType = value.toString('utf8');
        break;
      case 'id':
        if (!value.includes(0)) {
          eventId = value.toString('utf8');
          state.lastEventId = eventId;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value.toString('latin1'))) state.retryMs = Number(value.toString('latin1'));
        break;
      default:
        break; // unknown fields are ignored, as the spec says
    }
    return undefined;
  };

  // destroyOnReturn: false — stopping at the answer must not tear the connection down (see drainInBackground).
  for await (const raw of body.iterator({ destroyOnReturn: false })) {
    let chunk = raw as Buffer;
    let nl = chunk.indexOf(LF);
    while (nl !== -1) {
      const head = chunk.subarray(0, nl);
      let line: Buffer;
      if (partialSize === 0) {
        line = head;
      } else {
        partial.push(head);
        line = Buffer.concat(partial, partialSize + head.length);
        partial = [];
        partialSize = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      const ev = onLine(line);
      if (ev && (await onEvent(ev)) === true) {
        drainInBackground(body);
        return true;
      }
      chunk = chunk.subarray(nl + 1);
      nl = chunk.indexOf(LF);
    }
    if (chunk.length > 0) {
      partial.push(chunk);
      partialSize += chunk.length;
    }
  }
  return false;
}

/** data lines are joined with "\n" between them. */
function interleave(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(NEWLINE);
    out.push(p);
  });
  return out;
}

const DRAIN_LIMIT_BYTES = 64 * 1024;
const DRAIN_LIMIT_MS = 2_000;

/**
 * After the answer, the server should end the stream (MCP Streamable HTTP); reading it to its end
 * lets the socket go back to the keep-alive pool instead of being torn down. A server that keeps
 * talking or stalls gets its stream destroyed after a bound.
 */
function drainInBackground(body: Readable): void {
  let seen = 0;
  const timer = setTimeout(() => body.destroy(), DRAIN_LIMIT_MS);
  timer.unref();
  body.on('data', (b: Buffer) => {
    seen += b.length;
    if (seen > DRAIN_LIMIT_BYTES) body.destroy();
  });
  body.on('error', () => undefined);
  body.on('close', () => clearTimeout(timer));
  body.resume();
}

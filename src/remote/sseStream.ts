import type { BodySource } from './bodySource.js';
import { MAX_SSE_FIELD_LINE_BYTES, MAX_SSE_RETRY_MS, MessageTooLargeError, messageLimits, type MessageLimits } from './messageLimits.js';

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

/**
 * Takes over the data of an event whose data line grew too long to join: the pieces go straight
 * on (to stdout) as they arrive, so a large message is never held whole.
 */
export interface LargeDataHandler {
  /** A data line longer than this is handed over in pieces (when begin agrees). */
  thresholdBytes: number;
  /** Start taking an event's data (eventType: as far as read); undefined to have it joined as usual. */
  begin(eventType: string | undefined): Promise<LargeDataSink | undefined>;
}

/** The receiving end of one event's data, in pieces. */
export interface LargeDataSink {
  /** The next piece of the event's data. */
  write(piece: Buffer): void | Promise<void>;
  /** Between two data lines of the event (where a joined event has "\n"). */
  lineBreak(): void | Promise<void>;
  /** The event is complete (blank line); true stops reading the stream, as onEvent's true does. */
  end(ev: { event?: string; id?: string }): boolean | void | Promise<boolean | void>;
  /** The stream ended or broke before the event was complete. */
  abort(): void | Promise<void>;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);
const CR_BYTE = Buffer.from('\r');
const DATA_FIELD = Buffer.from('data:');
/** Marks, between onLine and the loop, a data line of an event whose data goes to a sink (never a real event type: it has a line break). */
const LINE_BREAK = '\n';

/**
 * Read an SSE body event by event (WHATWG "event stream interpretation"), awaiting the handler for
 * each so a slow consumer slows the reading (backpressure). Works on bytes: a data line that spans
 * many chunks is joined once, and event data is handed over as a Buffer. Resolves when the body
 * ends, or with true as soon as the handler returns true; the rest of the body is then drained in
 * the background (bounded) so the keep-alive connection can be reused. With `large`, a data line
 * past its threshold is handed over in pieces instead of being joined.
 *
 * Memory is bounded whatever the server sends: a line that is not data is refused past 64 KiB,
 * event data joined in memory past limits.maxWholeMessageBytes, data handed to a sink past
 * limits.maxMessageBytes (MessageTooLargeError, thrown after the sink was aborted); `retry:` is
 * capped at 30 s. Many short data lines with no blank line are handed over like one long line.
 */
export async function consumeSse(
  body: BodySource,
  state: SseState,
  onEvent: (ev: SseEvent) => boolean | void | Promise<boolean | void>,
  large?: LargeDataHandler,
  limits: MessageLimits = messageLimits(),
): Promise<boolean> {
  let partial: Buffer[] = [];
  let partialSize = 0;
  let dataParts: Buffer[] = [];
  /** Bytes of dataParts as joined (with the line breaks between them). */
  let dataBytes = 0;
  /** The current event was already offered to `large` (and refused, or taken). */
  let eventOffered = false;
  /** Bytes handed to the current sink. */
  let sinkBytes = 0;
  let eventType: string | undefined;
  let eventId: string | undefined;
  /** The event whose data is being handed over in pieces, if any. */
  let sink: LargeDataSink | undefined;
  /** Inside a data line that goes to sink as it arrives (its start already handed over). */
  let inLargeLine = false;
  /** A CR ending the previous piece of a large line: part of the data unless an LF follows. */
  let heldCr = false;
  /** The line being joined was already offered to `large` (and is not a data line, or was refused). */
  let lineOffered = false;

  /** Handle one complete line; returns an event when the line is blank and data was buffered. */
  const onLine = (line: Buffer): SseEvent | undefined => {
    if (line.length === 0) {
      // The id counts for resumption once its event is complete (WHATWG: set at dispatch), so a
      // stream cut in the middle of an event is resumed from before it.
      if (eventId !== undefined) state.lastEventId = eventId;
      eventOffered = false;
      if (sink) return { data: EMPTY, event: eventType, id: eventId };
      if (dataParts.length === 0) {
        eventType = undefined;
        return undefined;
      }
      const data = dataParts.length === 1 ? dataParts[0]! : Buffer.concat(interleave(dataParts));
      const ev: SseEvent = { data, event: eventType, id: eventId };
      dataParts = [];
      dataBytes = 0;
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
        if (sink) return { data: value, event: LINE_BREAK, id: undefined };
        dataBytes += (dataParts.length > 0 ? 1 : 0) + value.length;
        dataParts.push(value);
        break;
      case 'event':
        eventType = value.toString('utf8');
        break;
      case 'id':
        if (!value.includes(0)) eventId = value.toString('utf8');
        break;
      case 'retry':
        if (/^\d+$/.test(value.toString('latin1'))) state.retryMs = Math.min(Number(value.toString('latin1')), MAX_SSE_RETRY_MS);
        break;
      default:
        break; // unknown fields are ignored, as the spec says
    }
    return undefined;
  };

  /** The sink's writes, counted against limits.maxMessageBytes. */
  const counted = (s: LargeDataSink): LargeDataSink => {
    const take = (n: number): void => {
      sinkBytes += n;
      if (sinkBytes > limits.maxMessageBytes) throw new MessageTooLargeError('a message', limits.maxMessageBytes);
    };
    return {
      write: (piece) => {
        take(piece.length);
        return s.write(piece);
      },
      lineBreak: () => {
        take(1);
        return s.lineBreak();
      },
      end: (ev) => s.end(ev),
      abort: () => s.abort(),
    };
  };
  /** Ask `large` (once per event) to take the event's data, handing over what was joined so far; true when a sink has it. */
  const beginSink = async (): Promise<boolean> => {
    if (sink) return true;
    if (eventOffered || !large) return false;
    eventOffered = true;
    const s = await large.begin(eventType);
    if (!s) return false;
    sink = counted(s);
    sinkBytes = 0;
    const parts = dataParts;
    dataParts = [];
    dataBytes = 0;
    for (const [i, part] of parts.entries()) {
      if (i > 0) await sink.lineBreak();
      await sink.write(part);
    }
    return true;
  };
  /** Hand the data of a line that grew past the threshold over to a sink, if it is a data line and one is granted. */
  const startLargeLine = async (): Promise<void> => {
    lineOffered = true;
    if (!isDataLine()) return;
    if (!sink) {
      const hadParts = dataParts.length > 0;
      if (!(await beginSink())) return;
      if (hadParts) await sink!.lineBreak();
    } else {
      await sink.lineBreak();
    }
    inLargeLine = true;
    const head = Buffer.concat(partial, Math.min(partialSize, DATA_FIELD.length + 1));
    let skip = DATA_FIELD.length + (head[DATA_FIELD.length] === SPACE ? 1 : 0);
    const parts = partial;
    partial = [];
    partialSize = 0;
    for (const part of parts) {
      const piece = skip >= part.length ? undefined : part.subarray(skip);
      skip = Math.max(0, skip - part.length);
      if (piece) await writeLargePiece(piece);
    }
  };
  const isDataLine = (): boolean => {
    const head = Buffer.concat(partial, Math.min(partialSize, DATA_FIELD.length));
    return head.equals(DATA_FIELD);
  };
  /** A piece of a large line; a CR at its end is held until the next piece shows whether it ends the line. */
  const writeLargePiece = async (piece: Buffer): Promise<void> => {
    if (heldCr) {
      heldCr = false;
      await sink!.write(CR_BYTE);
    }
    if (piece[piece.length - 1] === CR) {
      heldCr = true;
      piece = piece.subarray(0, piece.length - 1);
    }
    if (piece.length > 0) await sink!.write(piece);
  };

  let stopped = false;
  /** One piece of the body; true once onEvent (or a sink's end) said to stop (the body then drains the rest). */
  const onChunk = async (raw: Buffer): Promise<boolean> => {
    let chunk = raw;
    let nl = chunk.indexOf(LF);
    while (nl !== -1) {
      const head = chunk.subarray(0, nl);
      let ev: SseEvent | undefined;
      lineOffered = false;
      if (inLargeLine) {
        // The end of a large data line: its last piece, without the CR of a CRLF.
        inLargeLine = false;
        const last = head.length > 0 && head[head.length - 1] === CR ? head.subarray(0, head.length - 1) : head;
        if (heldCr && head.length > 0) await sink!.write(CR_BYTE);
        heldCr = false;
        if (last.length > 0) await sink!.write(last);
      } else {
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
        ev = onLine(line);
        if (!ev && !sink && dataBytes > 0) {
          // Many data lines and no blank line: past the threshold they are handed over like one long line.
          if (large && dataBytes > large.thresholdBytes) await beginSink();
          if (!sink && dataBytes > limits.maxWholeMessageBytes) throw new MessageTooLargeError('a message', limits.maxWholeMessageBytes);
        }
      }
      if (ev && sink) {
        const s: LargeDataSink = sink;
        if (ev.event === LINE_BREAK) {
          await s.lineBreak();
          if (ev.data.length > 0) await s.write(ev.data);
          ev = undefined;
        } else {
          sink = undefined;
          eventType = undefined;
          if ((await s.end({ event: ev.event, id: ev.id })) === true) {
            stopped = true;
            return true;
          }
          ev = undefined;
        }
      }
      if (ev && (await onEvent(ev)) === true) {
        stopped = true;
        return true;
      }
      chunk = chunk.subarray(nl + 1);
      nl = chunk.indexOf(LF);
    }
    if (chunk.length > 0) {
      if (inLargeLine) {
        await writeLargePiece(chunk);
      } else {
        partial.push(chunk);
        partialSize += chunk.length;
        if (partialSize > MAX_SSE_FIELD_LINE_BYTES && !isDataLine()) {
          throw new MessageTooLargeError('an SSE line that is not data (a comment, event, id or retry field)', MAX_SSE_FIELD_LINE_BYTES);
        }
        if (large && !lineOffered && partialSize > large.thresholdBytes) await startLargeLine();
        if (!inLargeLine && dataBytes + partialSize > limits.maxWholeMessageBytes) {
          throw new MessageTooLargeError('a message', limits.maxWholeMessageBytes);
        }
      }
    }
    return false;
  };

  try {
    // Stopping at the answer leaves the rest to the body, which drains it (bounded) so the connection is reused.
    await body.forEach(onChunk);
  } finally {
    // The stream ended (or broke, or we stopped) in the middle of an event handed over in pieces.
    if (sink) {
      const s = sink;
      sink = undefined;
      await s.abort();
    }
  }
  return stopped;
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

import type { BodySource } from './bodySource.js';
import type { Envelope } from '../relay/envelopeScanner.js';
import { MessageTooLargeError, type MessageLimits } from './messageLimits.js';

const LF = 0x0a;

/** One message written to the IDE in pieces (StreamedMessage): line breaks become lineBreak(). */
export interface MessageStream {
  write(piece: Buffer): void | Promise<void>;
  lineBreak(): void | Promise<void>;
  end(): Promise<Envelope | undefined>;
  abort(): Promise<void>;
}

export interface JsonBodyOptions {
  limits: MessageLimits;
  /** Past this many bytes the body is streamed (when open is given) instead of held. */
  streamAboveBytes: number;
  /** Start streaming the message to the IDE; absent when the answer must be held whole. */
  open?: () => Promise<MessageStream>;
}

/** A JSON answer: held whole (small, or needed whole), or already streamed to the IDE with its envelope. */
export type JsonBody = { whole: Buffer } | { streamed: Envelope | undefined };

/**
 * Read a JSON response body within the limits, as it arrives: a small one is returned whole; a
 * large one goes to the IDE piece by piece (never assembled) when `open` allows it, and is cut
 * with MessageTooLargeError past limits.maxMessageBytes; one that must be held is refused past
 * limits.maxWholeMessageBytes. The body is destroyed on any failure.
 */
export async function readJsonBody(body: BodySource, opts: JsonBodyOptions): Promise<JsonBody> {
  const { limits } = opts;
  let parts: Buffer[] = [];
  let size = 0;
  let streamed: MessageStream | undefined;
  const onChunk = async (chunk: Buffer): Promise<void> => {
    size += chunk.length;
    if (streamed) {
      if (size > limits.maxMessageBytes) throw new MessageTooLargeError('a message', limits.maxMessageBytes);
      await writeSplit(streamed, chunk);
      return;
    }
    parts.push(chunk);
    if (opts.open && size > opts.streamAboveBytes) {
      streamed = await opts.open();
      const held = parts;
      parts = [];
      for (const part of held) await writeSplit(streamed, part);
      if (size > limits.maxMessageBytes) throw new MessageTooLargeError('a message', limits.maxMessageBytes);
      return;
    }
    if (size > limits.maxWholeMessageBytes) throw new MessageTooLargeError('a message', limits.maxWholeMessageBytes);
  };
  try {
    await body.forEach(onChunk); // a failure destroys the body (BodySource.forEach)
  } catch (err) {
    if (streamed) await streamed.abort();
    throw err;
  }
  if (streamed) return { streamed: await streamed.end() };
  return { whole: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size) };
}

/** A piece of JSON text: stdio framing allows no LF, so each one is handed over as a line break. */
async function writeSplit(out: MessageStream, piece: Buffer): Promise<void> {
  let from = 0;
  for (let nl = piece.indexOf(LF); nl !== -1; nl = piece.indexOf(LF, from)) {
    if (nl > from) await out.write(piece.subarray(from, nl));
    await out.lineBreak();
    from = nl + 1;
  }
  if (from < piece.length) await out.write(piece.subarray(from));
}

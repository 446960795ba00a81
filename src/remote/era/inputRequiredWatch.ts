/**
 * Watches the bytes of one message, piece by piece, for anything that could make JSON.parse of the
 * whole give the string "input_required": the word as it is, or a \u00XX escape of one of its
 * characters (the only way JSON spells a letter or "_" otherwise; \n, \t and the like cannot).
 * When it saw neither, no string in the message is "input_required", so the answer is not an
 * InputRequiredResult and can go to the IDE as received without being parsed. When it saw one
 * (rare: an answer that asks for input, or text that mentions the word) the caller parses to know.
 * A piece boundary inside a match is handled by re-checking the joint. Pure.
 */
export class InputRequiredWatch {
  private tail: Buffer = EMPTY;
  private seen = false;

  /** Bytes that could spell input_required went by. */
  get maybe(): boolean {
    return this.seen;
  }

  /** The next piece of the message. */
  push(piece: Buffer): void {
    if (this.seen || piece.length === 0) return;
    // A match across the boundary starts in the tail (what is wholly inside piece is found next).
    if (this.tail.length > 0 && spells(Buffer.concat([this.tail, piece.subarray(0, KEEP)]), this.tail.length)) this.seen = true;
    else if (spells(piece, piece.length)) this.seen = true;
    else this.tail = piece.length >= KEEP ? Buffer.from(piece.subarray(piece.length - KEEP)) : lastBytes(Buffer.concat([this.tail, piece]), KEEP);
  }

  /** A line break between pieces (whitespace: it can join nothing into a match). */
  lineBreak(): void {
    this.tail = EMPTY;
  }
}

const WORD = Buffer.from('"input_required"');
const ESCAPE = Buffer.from('\\u00');
/** The characters of WORD between its quotes, as the two hex digits after \u00 (either case). */
const WORD_CHARS = new Set([...'input_required'].map((c) => c.charCodeAt(0)));
/** Bytes of a piece kept to see a match across the boundary: one byte short of the longest pattern. */
const KEEP = WORD.length - 1;
const EMPTY = Buffer.alloc(0);

/**
 * Whether buf holds WORD, or a \u00XX escape of one of its characters, starting before startsBefore.
 * A match cut off by the end of buf is not one here: the next joint sees it whole.
 */
function spells(buf: Buffer, startsBefore: number): boolean {
  const w = buf.indexOf(WORD);
  if (w !== -1 && w < startsBefore) return true;
  for (let i = buf.indexOf(ESCAPE); i !== -1 && i < startsBefore; i = buf.indexOf(ESCAPE, i + 1)) {
    if (i + ESCAPE.length + 2 > buf.length) return false;
    const code = hexByte(buf[i + ESCAPE.length]!, buf[i + ESCAPE.length + 1]!);
    // Not hex is not JSON: JSON.parse will say so (a "maybe" costs only that parse).
    if (code === undefined || WORD_CHARS.has(code)) return true;
  }
  return false;
}

function lastBytes(buf: Buffer, n: number): Buffer {
  return buf.length <= n ? buf : buf.subarray(buf.length - n);
}

function hexByte(hi: number, lo: number): number | undefined {
  const h = hexDigit(hi);
  const l = hexDigit(lo);
  return h === undefined || l === undefined ? undefined : h * 16 + l;
}

function hexDigit(c: number): number | undefined {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return undefined;
}

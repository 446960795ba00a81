/** Byte-level helpers of EnvelopeScanner (JSON text as UTF-8 bytes). */

/** JSON structural bytes, shared by the byte-level readers (envelopeScanner, duplicateKeys). */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_OBJ = 0x7b;
export const CLOSE_OBJ = 0x7d;
export const OPEN_ARR = 0x5b;
export const CLOSE_ARR = 0x5d;
export const COMMA = 0x2c;
export const COLON = 0x3a;

/** Bytes that end a run of plain string bytes: the quote, the backslash and control characters. */
const STRING_STOP = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) STRING_STOP[b] = 1;
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;


export function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
export function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
export function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/**
 * The end of the run of plain string bytes starting at i (the index of the first quote, backslash or
 * control character, or buf.length). A short run is read byte by byte. A long one takes the next
 * quote and the next backslash from Buffer#indexOf (native memchr; both positions are kept for the
 * piece, so each search covers new bytes only) and tests the bytes before the nearer of the two for
 * control characters four at a time: a word holds a byte below 0x20 exactly when the classic "has a
 * byte less than" test says so.
 *
 * Every byte-by-byte stretch (the first 16 bytes, up to alignment, the tail) is the one function
 * byteRunEnd, which the first bytes of every run exercise: a tail loop of its own had no type
 * feedback when V8 optimised this function on long strings, and deoptimised it again each time
 * it was reached (seen with --trace-deopt on 1 MiB answers; ~3x slower in the bridge than alone).
 */
export function plainRunEnd(buf: Buffer, i: number, words: WordView): number {
  // Small enough for V8 to inline into the scanner's loop: most runs end within 16 bytes.
  const n = buf.length;
  const headEnd = Math.min(n, i + 16);
  const k = byteRunEnd(buf, i, headEnd);
  return k < headEnd || k === n ? k : longRunEnd(buf, k, words);
}

/** plainRunEnd past the first 16 bytes of a run. */
function longRunEnd(buf: Buffer, from: number, words: WordView): number {
  const n = buf.length;
  if (n - from < 16) return byteRunEnd(buf, from, n);
  const aligned = from + ((4 - ((buf.byteOffset + from) & 3)) & 3);
  let k = byteRunEnd(buf, from, aligned);
  if (k < aligned) return k;
  if (words.buf !== buf) {
    const start = (buf.byteOffset + 3) & ~3;
    words.buf = buf;
    words.start = start - buf.byteOffset;
    words.view = new Uint32Array(buf.buffer, start, (buf.byteOffset + n - start) >>> 2);
    words.quote = -1;
    words.backslash = -1;
  }
  const view = words.view!;
  // A run of medium length (text between escapes): words tested for all three kinds of stop.
  const w0 = (k - words.start) >>> 2;
  const w = stopWord(view, w0, Math.min(view.length, w0 + MEDIUM_RUN_WORDS));
  if (w < w0 + MEDIUM_RUN_WORDS || w === view.length) return byteRunEnd(buf, words.start + w * 4, n);
  // A long run: the nearer of the next quote and backslash natively, control characters before it.
  k = words.start + w * 4;
  if (words.quote < k) words.quote = nextIndex(buf, QUOTE, k);
  if (words.backslash < k) words.backslash = nextIndex(buf, BACKSLASH, k);
  const end = Math.min(words.quote, words.backslash);
  const c = controlWord(view, w, (end - words.start) >>> 2);
  return byteRunEnd(buf, words.start + c * 4, end);
}

/** Words a run is tested for every kind of stop before the natives take over (past it, a run is long). */
const MEDIUM_RUN_WORDS = 256;

/**
 * The first word in [w, last) that holds a quote, backslash or control character (last if none). A
 * function of its own so that the loop V8 compiles on the fly (OSR) is followed by nothing but its
 * return: code after such a loop had no type feedback yet the first time, and the compiled loop was
 * left for the interpreter there on every later long run (seen with --trace-deopt at 16 answers in
 * flight: 129 deopts in 400 answers).
 */
function stopWord(view: Uint32Array, w: number, last: number): number {
  for (; w < last; w++) {
    const x = view[w]!;
    const q = x ^ 0x22222222;
    const bs = x ^ 0x5c5c5c5c;
    if ((((q - 0x01010101) & ~q) | ((bs - 0x01010101) & ~bs) | ((x - 0x20202020) & ~x)) & 0x80808080) break;
  }
  return w;
}

/** The index of the next `byte` from `from` on, or buf.length. */
function nextIndex(buf: Buffer, byte: number, from: number): number {
  const at = buf.indexOf(byte, from);
  return at === -1 ? buf.length : at;
}

/** The first word in [w, last) that holds a control character (last if none); a function of its own, as stopWord is. */
function controlWord(view: Uint32Array, w: number, last: number): number {
  for (; w < last; w++) {
    const x = view[w]!;
    if ((x - 0x20202020) & ~x & 0x80808080) break;
  }
  return w;
}

/** The first index in [k, end) holding a quote, backslash or control character, or end. */
function byteRunEnd(buf: Buffer, k: number, end: number): number {
  while (k < end && STRING_STOP[buf[k]!] === 0) k++;
  return k;
}

/** The current piece seen as 32-bit words from its first 4-aligned byte (made lazily, once per piece). */
export interface WordView {
  buf?: Buffer;
  start: number;
  view?: Uint32Array;
  /** The next quote and backslash at or after the last long run's start (buf.length: none; -1: not searched). */
  quote: number;
  backslash: number;
}

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
 * control character, or buf.length). Long runs are tested four bytes at a time: a word holds one of
 * those bytes exactly when the classic "has a zero byte" / "has a byte less than" tests say so.
 *
 * Every byte-by-byte stretch (the first 16 bytes, up to alignment, the tail) is the one function
 * byteRunEnd, which the first bytes of every run exercise: a tail loop of its own had no type
 * feedback when V8 optimised this function on long strings, and deoptimised it again each time
 * it was reached (seen with --trace-deopt on 1 MiB answers; ~3x slower in the bridge than alone).
 */
export function plainRunEnd(buf: Buffer, i: number, words: WordView): number {
  const n = buf.length;
  // A short run costs no more byte by byte; the word view is made once per piece.
  const headEnd = Math.min(n, i + 16);
  let k = byteRunEnd(buf, i, headEnd);
  if (k < headEnd) return k;
  if (n - k < 16) return byteRunEnd(buf, k, n);
  const aligned = k + ((4 - ((buf.byteOffset + k) & 3)) & 3);
  k = byteRunEnd(buf, k, aligned);
  if (k < aligned) return k;
  if (words.buf !== buf) {
    const start = (buf.byteOffset + 3) & ~3;
    words.buf = buf;
    words.start = start - buf.byteOffset;
    words.view = new Uint32Array(buf.buffer, start, (buf.byteOffset + n - start) >>> 2);
  }
  const w = stopWord(words.view!, (k - words.start) >>> 2);
  return byteRunEnd(buf, words.start + w * 4, n);
}

/**
 * The first word from w on that holds a quote, backslash or control character (view.length if
 * none). A function of its own so that the loop V8 compiles on the fly (OSR, in a long string) is
 * followed by nothing but its return: code after such a loop had no type feedback yet the first
 * time, and the compiled loop was left for the interpreter there on every later long run (seen
 * with --trace-deopt at 16 answers in flight: 129 deopts in 400 answers).
 */
function stopWord(view: Uint32Array, w: number): number {
  for (; w < view.length; w++) {
    const x = view[w]!;
    const q = x ^ 0x22222222;
    const bs = x ^ 0x5c5c5c5c;
    if ((((q - 0x01010101) & ~q) | ((bs - 0x01010101) & ~bs) | ((x - 0x20202020) & ~x)) & 0x80808080) break;
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
}

import { BACKSLASH, CLOSE_ARR, CLOSE_OBJ, COLON, COMMA, hexValue, isDigit, isWs, OPEN_ARR, OPEN_OBJ, plainRunEnd, QUOTE, type WordView } from './jsonBytes.js';

/**
 * The routing envelope of a JSON-RPC message (does it have a "method", what is its "id"), read from
 * its bytes as they arrive, piece by piece, without building the message: a 1 MiB tool result is
 * walked once and never held.
 *
 * The scan is a complete JSON syntax check (RFC 8259, as JSON.parse reads it): strings with their
 * escapes (\uXXXX included) and no raw control characters, numbers, true/false/null, matched
 * brackets, one top-level object and nothing after it. Top-level keys are decoded ("\u0069d" is
 * "id") and a repeated key counts by its last occurrence, as JSON.parse does. So an envelope that
 * finish() returns is the one JSON.parse of the same bytes gives (see envelopeOf in jsonEnvelope.ts);
 * when the scanner cannot be sure of that (invalid JSON, an id past MAX_ID_BYTES, nesting past
 * MAX_DEPTH) finish() returns undefined and the message is not routed on a guess.
 */
export interface Envelope {
  hasMethod: boolean;
  /** The id when present and a string, a number or null (undefined for any other id value). */
  id?: string | number | null;
  hasId: boolean;
  /** A top-level "error" member is present (the message is an error response). */
  hasError?: boolean;
}

const MINUS = 0x2d;

/** Longest id (as JSON text) recorded; ids are short, a longer one makes the envelope unknown. */
const MAX_ID_BYTES = 4096;
/** Decoded top-level keys are kept only as long as they could still be one the envelope reads. */
const MAX_KEY_CHARS = 8;
/** Deepest nesting followed (JSON.parse reads deeper; past this the envelope is unknown). */
export const MAX_DEPTH = 1 << 20;
/** A code unit no envelope key contains (a raw non-ASCII byte in a key). */
const NO_MATCH = '\uffff';

const SIMPLE_ESCAPES: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };
/**
 * Per byte after a backslash: the length of the whole escape (2 for a simple one, 6 for \uXXXX),
 * 0 when that byte starts none (invalid JSON, which the states below reject).
 */
const ESCAPE_LENGTH = new Uint8Array(256);
for (const b of Object.keys(SIMPLE_ESCAPES)) ESCAPE_LENGTH[Number(b)] = 2;
ESCAPE_LENGTH[0x75] = 6;

const enum S {
  Start, // before the opening brace
  Value, // a value must start here
  KeyOrEnd, // after "{"
  Key, // after "," in an object
  ValueOrEnd, // after "["
  Colon,
  AfterValue,
  Str, // inside a string (key or value)
  StrEscape, // after a backslash
  StrHex, // inside \uXXXX
  Literal, // inside true / false / null
  NumMinus, // after "-"
  NumZero, // a leading 0
  NumInt,
  NumDot,
  NumFrac,
  NumE,
  NumESign,
  NumExp,
  Done,
  Invalid,
}

const LITERALS: Record<number, Buffer> = { 0x74: Buffer.from('true'), 0x66: Buffer.from('false'), 0x6e: Buffer.from('null') };

/** Feed the bytes of one message with push(), then finish() for its envelope (undefined when not known to agree with JSON.parse). */
export class EnvelopeScanner {
  private state = S.Start;
  private readonly env: Envelope = { hasMethod: false, hasId: false };
  /** Open containers, innermost last: 1 for an object, 0 for an array. */
  private stack = new Uint8Array(64);
  private depth = 0;
  private readonly words: WordView = { start: 0, quote: -1, backslash: -1 };
  /** The string being read is an object key (not a value). */
  private strIsKey = false;
  /** The string being read is a top-level key (decoded into key). */
  private inTopKey = false;
  private key = '';
  private hex = 0;
  private hexDigits = 0;
  private literal: Buffer = LITERALS[0x74]!;
  private literalPos = 0;
  /** The current top-level member is "id": its value's bytes as JSON text. */
  private idParts: Buffer[] | undefined;
  private idBytes = 0;
  /** The last "id" member could not be read (too long): the envelope is unknown. */
  private idUnknown = false;

  /** True once the bytes can no longer be a well-formed message (or the scan gave up). */
  get invalid(): boolean {
    return this.state === S.Invalid;
  }

  /** True while the bytes so far end inside a JSON string (where a raw line break would be invalid). */
  get inString(): boolean {
    return this.state === S.Str || this.state === S.StrEscape || this.state === S.StrHex;
  }

  /** Scan the next piece of the message. */
  push(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    let idFrom = 0; // where this piece's part of a recorded id value starts
    while (i < n) {
      const b = buf[i]!;
      switch (this.state) {
        case S.Str: {
          if (this.inTopKey) {
            if (b === QUOTE) this.endString(buf, idFrom, i + 1);
            else if (b === BACKSLASH) this.state = S.StrEscape;
            else if (b < 0x20) return this.fail();
            else this.addKeyChar(b < 0x80 ? String.fromCharCode(b) : NO_MATCH);
            i++;
            break;
          }
          // The hot loop: plain string bytes, and the escapes among them checked in place (a text
          // with a line break or quote every few bytes costs a few steps per escape, not a trip
          // through the state machine). An escape cut by the piece's end goes by the states below.
          let k = plainRunEnd(buf, i, this.words);
          while (k < n && buf[k] === BACKSLASH) {
            const e = k + 1 < n ? ESCAPE_LENGTH[buf[k + 1]!]! : 0;
            if (e === 0 || k + e > n) break;
            if (e === 6 && !(hexValue(buf[k + 2]!) >= 0 && hexValue(buf[k + 3]!) >= 0 && hexValue(buf[k + 4]!) >= 0 && hexValue(buf[k + 5]!) >= 0)) return this.fail();
            k = plainRunEnd(buf, k + e, this.words);
          }
          if (k === n) {
            i = n;
            break;
          }
          const c = buf[k]!;
          if (c === QUOTE) this.endString(buf, idFrom, k + 1);
          else if (c === BACKSLASH) this.state = S.StrEscape;
          else return this.fail();
          i = k + 1;
          break;
        }
        case S.StrEscape: {
          if (b === 0x75) {
            this.hex = 0;
            this.hexDigits = 0;
            this.state = S.StrHex;
          } else {
            const ch = SIMPLE_ESCAPES[b];
            if (ch === undefined) return this.fail();
            if (this.inTopKey) this.addKeyChar(ch);
            this.state = S.Str;
          }
          i++;
          break;
        }
        case S.StrHex: {
          const h = hexValue(b);
          if (h < 0) return this.fail();
          this.hex = this.hex * 16 + h;
          if (++this.hexDigits === 4) {
            if (this.inTopKey) this.addKeyChar(String.fromCharCode(this.hex));
            this.state = S.Str;
          }
          i++;
          break;
        }
        case S.AfterValue: {
          if (isWs(b)) i++;
          else if (b === COMMA) {
            this.state = this.stack[this.depth - 1] === 1 ? S.Key : S.Value;
            i++;
          } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
            if (this.stack[this.depth - 1] !== (b === CLOSE_OBJ ? 1 : 0)) return this.fail();
            i++;
            this.close();
          } else return this.fail();
          break;
        }
        case S.Start: {
          if (isWs(b)) i++;
          else if (b === OPEN_OBJ) {
            this.open(1);
            i++;
          } else return this.fail();
          break;
        }
        case S.KeyOrEnd:
        case S.Key: {
          if (isWs(b)) i++;
          else if (b === QUOTE) {
            this.strIsKey = true;
            this.inTopKey = this.depth === 1;
            if (this.inTopKey) this.key = '';
            this.state = S.Str;
            i++;
          } else if (b === CLOSE_OBJ && this.state === S.KeyOrEnd) {
            i++;
            this.close();
          } else return this.fail();
          break;
        }
        case S.Colon: {
          if (isWs(b)) i++;
          else if (b === COLON) {
            this.state = S.Value;
            i++;
          } else return this.fail();
          break;
        }
        case S.ValueOrEnd:
        case S.Value: {
          if (isWs(b)) {
            i++;
            break;
          }
          if (b === CLOSE_ARR && this.state === S.ValueOrEnd) {
            i++;
            this.close();
            break;
          }
          if (this.depth === 1) {
            // A top-level member's value: what its key means for the envelope (the last one wins).
            this.beginMember();
            idFrom = i;
          }
          if (b === QUOTE) {
            this.strIsKey = false;
            this.inTopKey = false;
            this.state = S.Str;
          } else if (b === OPEN_OBJ) this.open(1);
          else if (b === OPEN_ARR) this.open(0);
          else if (b === MINUS) this.state = S.NumMinus;
          else if (b === 0x30) this.state = S.NumZero;
          else if (isDigit(b)) this.state = S.NumInt;
          else if (LITERALS[b]) {
            this.literal = LITERALS[b]!;
            this.literalPos = 1;
            this.state = S.Literal;
          } else return this.fail();
          if (this.idParts && (b === OPEN_OBJ || b === OPEN_ARR)) {
            // Not a JSON-RPC id: JSON.parse gives an object, the envelope has no usable id.
            this.idParts = undefined;
            this.env.id = undefined;
            this.env.hasId = true;
          }
          i++;
          break;
        }
        case S.Literal: {
          if (b !== this.literal[this.literalPos]) return this.fail();
          i++;
          if (++this.literalPos === this.literal.length) this.endScalar(buf, idFrom, i);
          break;
        }
        case S.NumMinus:
          if (b === 0x30) this.state = S.NumZero;
          else if (isDigit(b)) this.state = S.NumInt;
          else return this.fail();
          i++;
          break;
        case S.NumZero:
        case S.NumInt:
        case S.NumFrac:
        case S.NumExp: {
          if (isDigit(b) && this.state !== S.NumZero) i++;
          else if (b === 0x2e && (this.state === S.NumZero || this.state === S.NumInt)) {
            this.state = S.NumDot;
            i++;
          } else if ((b === 0x65 || b === 0x45) && this.state !== S.NumExp) {
            this.state = S.NumE;
            i++;
          } else {
            // The number ended; this byte is read again as what follows it.
            this.endScalar(buf, idFrom, i);
          }
          break;
        }
        case S.NumDot:
          if (!isDigit(b)) return this.fail();
          this.state = S.NumFrac;
          i++;
          break;
        case S.NumE:
          if (b === 0x2b || b === MINUS) this.state = S.NumESign;
          else if (isDigit(b)) this.state = S.NumExp;
          else return this.fail();
          i++;
          break;
        case S.NumESign:
          if (!isDigit(b)) return this.fail();
          this.state = S.NumExp;
          i++;
          break;
        case S.Done: {
          if (isWs(b)) i++;
          else return this.fail();
          break;
        }
        case S.Invalid:
          return;
      }
    }
    // The piece ended inside a recorded id value: keep its bytes so far.
    if (this.idParts) this.recordId(buf, idFrom, n);
    this.words.buf = undefined; // the piece is not held past its push
    this.words.view = undefined;
  }

  /** The envelope once all bytes were pushed, or undefined when it is not known to be JSON.parse's. */
  finish(): Envelope | undefined {
    return this.state === S.Done && !this.idUnknown ? this.env : undefined;
  }

  private fail(): void {
    this.state = S.Invalid;
    this.idParts = undefined;
    this.words.buf = undefined;
    this.words.view = undefined;
  }

  private addKeyChar(ch: string): void {
    if (this.key.length <= MAX_KEY_CHARS) this.key += ch;
  }

  private beginMember(): void {
    const key = this.key;
    this.idParts = undefined;
    if (key === 'method') this.env.hasMethod = true;
    else if (key === 'error') this.env.hasError = true;
    else if (key === 'id') {
      this.idParts = [];
      this.idBytes = 0;
      this.idUnknown = false;
    }
  }

  private open(kind: 0 | 1): void {
    if (this.depth >= MAX_DEPTH) return this.fail();
    if (this.depth === this.stack.length) {
      const grown = new Uint8Array(this.stack.length * 2);
      grown.set(this.stack);
      this.stack = grown;
    }
    this.stack[this.depth++] = kind;
    this.state = kind === 1 ? S.KeyOrEnd : S.ValueOrEnd;
  }

  private close(): void {
    this.depth--;
    this.state = this.depth === 0 ? S.Done : S.AfterValue;
  }

  /** A string ended: a key is followed by a colon, a value by what follows values. */
  private endString(buf: Buffer, idFrom: number, to: number): void {
    this.inTopKey = false;
    if (this.strIsKey) this.state = S.Colon;
    else this.endScalar(buf, idFrom, to);
  }

  private endScalar(buf: Buffer, idFrom: number, to: number): void {
    this.state = S.AfterValue;
    if (this.idParts && this.depth === 1) this.endId(buf, idFrom, to);
  }

  private recordId(buf: Buffer, from: number, to: number): void {
    if (!this.idParts || to <= from) return;
    this.idBytes += to - from;
    if (this.idBytes > MAX_ID_BYTES) {
      this.idParts = undefined;
      this.idUnknown = true;
      return;
    }
    this.idParts.push(Buffer.from(buf.subarray(from, to)));
  }

  private endId(buf: Buffer, from: number, to: number): void {
    this.recordId(buf, from, to);
    const parts = this.idParts;
    this.idParts = undefined;
    if (!parts) return;
    // The bytes are valid JSON text for one scalar (checked above), so this parse cannot fail.
    const id: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
    this.env.hasId = true;
    this.env.id = typeof id === 'string' || typeof id === 'number' || id === null ? id : undefined;
  }
}

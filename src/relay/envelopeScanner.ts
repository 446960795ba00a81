/**
 * The routing envelope of a JSON-RPC message (does it have a "method", what is its "id"), read from
 * its bytes as they arrive, piece by piece, without building the message: a 1 MiB tool result is
 * skipped over with a few indexOf calls and never held. The structure is checked as it is walked
 * (balanced brackets, closed strings, one top-level object, nothing after it).
 */
export interface Envelope {
  hasMethod: boolean;
  /** The id when present: a string, a number or null. */
  id?: string | number | null;
  hasId: boolean;
  /** A top-level "error" member is present (the message is an error response). */
  hasError?: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Longest id (as JSON text) recorded; ids are short, a longer one is refused. */
const MAX_ID_BYTES = 4096;
/** Keys are recorded only as long as they could still be "method" or "id". */
const MAX_KEY_BYTES = 8;

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

const enum S {
  Start, // before the opening brace
  FirstKey, // after "{": a key or "}"
  Key, // expecting the opening quote of a key
  InKey,
  Colon,
  ValueStart,
  InString, // a top-level member's string value
  Nested, // inside a top-level member's object or array value
  Scalar, // a number, true, false or null
  AfterValue,
  Done,
  Invalid,
}

/** Feed the bytes of one message with push(), then finish() for its envelope (undefined when malformed). */
export class EnvelopeScanner {
  private state = S.Start;
  private readonly env: Envelope = { hasMethod: false, hasId: false };
  /** Inside a string: the bytes so far end with an unpaired backslash (the next byte is escaped). */
  private escaped = false;
  /** Inside a Nested value: currently in a string. */
  private nestedInString = false;
  private depth = 0;
  private key: number[] = [];
  private keyTooLong = false;
  private scalarBytes = 0;
  /** Bytes of the current id value as JSON text, when the current member is "id". */
  private idParts: Buffer[] | undefined;
  private idBytes = 0;

  /** True once the bytes can no longer be a well-formed message. */
  get invalid(): boolean {
    return this.state === S.Invalid;
  }

  /** True while the bytes so far end inside a JSON string (where a raw line break would be invalid). */
  get inString(): boolean {
    return this.state === S.InKey || this.state === S.InString || (this.state === S.Nested && this.nestedInString);
  }

  /** Scan the next piece of the message. */
  push(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    while (i < n && this.state !== S.Invalid) {
      switch (this.state) {
        case S.Start: {
          const b = buf[i]!;
          if (isWs(b)) i++;
          else if (b === OPEN_OBJ) {
            this.state = S.FirstKey;
            i++;
          } else this.state = S.Invalid;
          break;
        }
        case S.FirstKey:
        case S.Key: {
          const b = buf[i]!;
          if (isWs(b)) i++;
          else if (b === QUOTE) {
            this.key = [];
            this.keyTooLong = false;
            this.escaped = false;
            this.state = S.InKey;
            i++;
          } else if (b === CLOSE_OBJ && this.state === S.FirstKey) {
            this.state = S.Done;
            i++;
          } else this.state = S.Invalid;
          break;
        }
        case S.InKey: {
          const end = this.stringEnd(buf, i);
          const stop = end === -1 ? n : end;
          for (let k = i; k < stop && !this.keyTooLong; k++) {
            if (this.key.length >= MAX_KEY_BYTES) this.keyTooLong = true;
            else this.key.push(buf[k]!);
          }
          if (end === -1) return;
          i = end + 1;
          this.state = S.Colon;
          break;
        }
        case S.Colon: {
          const b = buf[i]!;
          if (isWs(b)) i++;
          else if (b === COLON) {
            this.state = S.ValueStart;
            i++;
          } else this.state = S.Invalid;
          break;
        }
        case S.ValueStart: {
          const b = buf[i]!;
          if (isWs(b)) {
            i++;
            break;
          }
          const key = this.keyTooLong ? '' : String.fromCharCode(...this.key);
          if (key === 'method') this.env.hasMethod = true;
          if (key === 'error') this.env.hasError = true;
          this.idParts = key === 'id' ? [] : undefined;
          this.idBytes = 0;
          if (b === QUOTE) {
            this.escaped = false;
            this.state = S.InString;
            this.recordId(buf, i, i + 1);
            i++;
          } else if (b === OPEN_OBJ || b === OPEN_ARR) {
            if (this.idParts) this.state = S.Invalid; // an id is never an object or array
            else {
              this.depth = 1;
              this.nestedInString = false;
              this.state = S.Nested;
              i++;
            }
          } else {
            this.scalarBytes = 0;
            this.state = S.Scalar;
          }
          break;
        }
        case S.InString: {
          const end = this.stringEnd(buf, i);
          const stop = end === -1 ? n : end + 1;
          this.recordId(buf, i, stop);
          if (end === -1) return;
          i = stop;
          this.endValue();
          break;
        }
        case S.Nested: {
          if (this.nestedInString) {
            const end = this.stringEnd(buf, i);
            if (end === -1) return;
            i = end + 1;
            this.nestedInString = false;
            break;
          }
          for (; i < n; i++) {
            const c = buf[i]!;
            if (c === QUOTE) {
              this.nestedInString = true;
              this.escaped = false;
              i++;
              break;
            }
            if (c === OPEN_OBJ || c === OPEN_ARR) this.depth++;
            else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
              if (--this.depth === 0) {
                i++;
                this.endValue();
                break;
              }
            }
          }
          break;
        }
        case S.Scalar: {
          let k = i;
          while (k < n) {
            const c = buf[k]!;
            if (c === COMMA || c === CLOSE_OBJ || c === CLOSE_ARR || isWs(c)) break;
            k++;
          }
          this.recordId(buf, i, k);
          this.scalarBytes += k - i;
          i = k;
          if (k < n) {
            // The delimiter is read again as what follows the value.
            if (this.scalarBytes === 0) this.state = S.Invalid;
            else this.endValue();
          }
          break;
        }
        case S.AfterValue: {
          const b = buf[i]!;
          if (isWs(b)) i++;
          else if (b === COMMA) {
            this.state = S.Key;
            i++;
          } else if (b === CLOSE_OBJ) {
            this.state = S.Done;
            i++;
          } else this.state = S.Invalid;
          break;
        }
        case S.Done: {
          if (isWs(buf[i]!)) i++;
          else this.state = S.Invalid;
          break;
        }
      }
    }
  }

  /** The envelope once all bytes were pushed, or undefined when they are not one well-formed object. */
  finish(): Envelope | undefined {
    // A scalar at the very end of the bytes ends there (only possible for broken input anyway).
    return this.state === S.Done ? this.env : undefined;
  }

  /**
   * Index of the closing quote of the string the scan is in, starting at i, or -1 when the piece
   * ends first (the escape state carries over to the next piece).
   */
  private stringEnd(buf: Buffer, i: number): number {
    let pos = i;
    if (this.escaped && pos < buf.length) {
      pos++;
      this.escaped = false;
    }
    for (;;) {
      const q = buf.indexOf(QUOTE, pos);
      const limit = q === -1 ? buf.length : q;
      // The quote (or the piece's end) is escaped when an odd number of backslashes precede it.
      let bs = 0;
      for (let k = limit - 1; k >= pos && buf[k] === BACKSLASH; k--) bs++;
      if (q === -1) {
        this.escaped = bs % 2 === 1;
        return -1;
      }
      if (bs % 2 === 0) return q;
      pos = q + 1;
    }
  }

  private recordId(buf: Buffer, from: number, to: number): void {
    if (!this.idParts || to <= from) return;
    this.idBytes += to - from;
    if (this.idBytes > MAX_ID_BYTES) {
      this.state = S.Invalid;
      return;
    }
    this.idParts.push(Buffer.from(buf.subarray(from, to)));
  }

  private endValue(): void {
    this.state = S.AfterValue;
    if (!this.idParts) return;
    try {
      const id: unknown = JSON.parse(Buffer.concat(this.idParts).toString('utf8'));
      if (id !== null && typeof id !== 'string' && typeof id !== 'number') {
        this.state = S.Invalid;
        return;
      }
      this.env.id = id as string | number | null;
      this.env.hasId = true;
    } catch {
      this.state = S.Invalid;
    }
    this.idParts = undefined;
  }
}

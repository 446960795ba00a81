import type { IncomingHttpHeaders } from 'node:http';
import { codedError } from './failures.js';

/**
 * HTTP/1.1 responses read from a socket's bytes (RFC 9112), one step at a time: the head, then the
 * body in pieces framed by Content-Length, chunked transfer coding or the end of the connection.
 * Pure: bytes in, steps out. The pieces are views of the buffers fed in, never copies.
 *
 * Strict where a lenient reading lets one response pass for another (request smuggling, response
 * splitting): Transfer-Encoding together with Content-Length, Content-Length values that disagree,
 * a transfer coding other than chunked, obs-fold continuation lines, control characters in a field,
 * a bare CR, an oversized head, chunk size or trailer section: each is a ResponseFormatError and the
 * connection is not used again. Lenient only where RFC 9112 allows it: LF alone ends a line
 * (§2.2), empty lines before a status line are skipped, the reason phrase may be missing.
 */
export interface ResponseHead {
  status: number;
  /** Field names in lower case; repeated fields joined with ", " (set-cookie: an array), as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** The connection can carry another exchange once this body is read (HTTP/1.1 without `Connection: close`). */
  reusable: boolean;
}

export type ParseStep = { kind: 'head'; head: ResponseHead } | { kind: 'body'; data: Buffer } | { kind: 'end' };

/** The bytes are not an HTTP/1.1 response this reader accepts. */
export class ResponseFormatError extends Error {
  readonly code = 'HPE_INVALID';
  constructor(what: string) {
    super(`the gateway sent a malformed HTTP response (${what})`);
    this.name = 'ResponseFormatError';
  }
}

/** Longest response head (status line and fields) read; node:http's default is 16 KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size line (size and extensions) and trailer section read. */
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const MAX_TRAILER_BYTES = 64 * 1024;
/** Interim (1xx) responses read before the final one; a server that sends more is refused. */
const MAX_INTERIM_RESPONSES = 10;
/** 13 hex digits: every size below 2^52, so the arithmetic stays exact. */
const MAX_CHUNK_SIZE_DIGITS = 13;

const LF = 0x0a;
const CR = 0x0d;
/** A token (RFC 9110 §5.6.2): a field name, a method. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field value characters: HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5); no other control character. */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;

const enum State {
  Head,
  FixedBody,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

export interface ResponseParserOptions {
  /** The request's method: the answer to a HEAD has no body whatever its fields say. */
  method: string;
}

/** Reads one response (after any 1xx interim ones); feed() bytes, then take next() steps until it returns undefined. */
export class ResponseParser {
  private state = State.Head;
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  /** Bytes of the head (or of a chunk-size line / the trailers) so far, when they span feeds. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private remaining = 0;
  /** Bytes of the trailer section read so far. */
  private trailerBytes = 0;
  private reusable = false;
  private interims = 0;

  constructor(private readonly o: ResponseParserOptions) {}

  /** The next bytes from the connection; the previous ones must have been consumed (next() gave undefined). */
  feed(bytes: Buffer): void {
    if (this.at < this.chunk.length) throw new Error('ResponseParser.feed: the previous bytes were not consumed');
    this.chunk = bytes;
    this.at = 0;
  }

  /** Bytes fed but not part of this response (only meaningful once it ended): the connection cannot be reused then. */
  get leftover(): number {
    return this.chunk.length - this.at;
  }

  /** True once a head was read whose body is empty (204, 304, HEAD, Content-Length: 0). */
  get bodyless(): boolean {
    return this.state === State.FixedBody && this.remaining === 0;
  }

  /** Whether the head asked for the connection to be kept (false until the head was read). */
  get keepsConnection(): boolean {
    return this.reusable;
  }

  /** The next step from the bytes fed so far, or undefined when more bytes are needed. */
  next(): ParseStep | undefined {
    for (;;) {
      switch (this.state) {
        case State.Head: {
          const head = this.readHead();
          if (!head) return undefined;
          if (head === 'interim') continue;
          return { kind: 'head', head };
        }
        case State.FixedBody: {
          if (this.remaining === 0) return this.finish();
          const data = this.take(this.remaining);
          if (!data) return undefined;
          this.remaining -= data.length;
          return { kind: 'body', data };
        }
        case State.ChunkSize: {
          const line = this.readLine(MAX_CHUNK_LINE_BYTES, 'chunk size line');
          if (line === undefined) return undefined;
          this.remaining = chunkSize(line);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          continue;
        }
        case State.ChunkData: {
          const data = this.take(this.remaining);
          if (!data) return undefined;
          this.remaining -= data.length;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          return { kind: 'body', data };
        }
        case State.ChunkDataEnd: {
          const line = this.readLine(2, 'end of a chunk');
          if (line === undefined) return undefined;
          if (line.length !== 0) throw new ResponseFormatError('a chunk longer than its size');
          this.state = State.ChunkSize;
          continue;
        }
        case State.Trailers: {
          // Trailer fields are read past and dropped: nothing here acts on them (RFC 9110 §6.5.2).
          const line = this.readLine(MAX_TRAILER_BYTES - this.trailerBytes, 'trailer section');
          if (line === undefined) return undefined;
          if (line.length === 0) return this.finish();
          this.trailerBytes += line.length + 1;
          continue;
        }
        case State.UntilClose: {
          const data = this.take(Infinity);
          if (!data) return undefined;
          return { kind: 'body', data };
        }
        case State.Done:
          return undefined;
      }
    }
  }

  /** The connection ended: the last step of a body read until the close; throws when the response is not complete. */
  closed(): ParseStep | undefined {
    if (this.state === State.UntilClose) return this.finish();
    if (this.state === State.Done) return undefined;
    throw codedError('ECONNRESET', 'the gateway closed the connection before its response was complete');
  }

  private finish(): ParseStep {
    this.state = State.Done;
    return { kind: 'end' };
  }

  /** Up to max bytes of the current feed, as a view. */
  private take(max: number): Buffer | undefined {
    const left = this.chunk.length - this.at;
    if (left === 0) return undefined;
    const n = Math.min(left, max);
    const data = this.chunk.subarray(this.at, this.at + n);
    this.at += n;
    return data;
  }

  /**
   * One line (without its CRLF or LF) once it is complete, at most max bytes; spans feeds. A CR
   * anywhere but before the LF is refused (RFC 9112 §2.2: a bare CR is invalid).
   */
  private readLine(max: number, what: string): Buffer | undefined {
    const nl = this.chunk.indexOf(LF, this.at);
    const end = nl === -1 ? this.chunk.length : nl;
    const piece = this.chunk.subarray(this.at, end);
    if (this.heldBytes + piece.length > max) throw new ResponseFormatError(`${what} too long`);
    if (nl === -1) {
      this.hold(piece);
      this.at = end;
      return undefined;
    }
    this.at = nl + 1;
    let line = this.held.length === 0 ? piece : Buffer.concat([...this.held, piece]);
    this.held = [];
    this.heldBytes = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.includes(CR)) throw new ResponseFormatError(`a bare CR in the ${what}`);
    return line;
  }

  private hold(piece: Buffer): void {
    if (piece.length === 0) return;
    // A copy: the feed's buffer is the caller's.
    this.held.push(Buffer.from(piece));
    this.heldBytes += piece.length;
  }

  /** The head once complete (a 1xx interim head is read and skipped: 'interim'). */
  private readHead(): ResponseHead | 'interim' | undefined {
    if (this.held.length > 0) {
      // A head split across reads: join it (a head is small and bounded) and read it from there.
      this.chunk = Buffer.concat([...this.held, this.chunk.subarray(this.at)]);
      this.at = 0;
      this.held = [];
      this.heldBytes = 0;
    }
    // Empty lines before a status line are skipped (RFC 9112 §2.2 robustness).
    while (this.at < this.chunk.length && (this.chunk[this.at] === LF || this.chunk[this.at] === CR)) this.at++;
    const end = headEnd(this.chunk, this.at);
    if (end === -1) {
      if (this.chunk.length - this.at > MAX_HEAD_BYTES) throw new ResponseFormatError('response head too long');
      this.hold(this.chunk.subarray(this.at));
      this.at = this.chunk.length;
      return undefined;
    }
    if (end.lines - this.at > MAX_HEAD_BYTES) throw new ResponseFormatError('response head too long');
    const text = this.chunk.subarray(this.at, end.lines).toString('latin1');
    this.at = end.next;
    const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (lines.some((l) => l.includes('\r'))) throw new ResponseFormatError('a bare CR in the response head');
    return this.interpret(lines);
  }

  private interpret(lines: string[]): ResponseHead | 'interim' {
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw new ResponseFormatError('status line');
    const minor = Number(m[1]);
    const status = Number(m[2]);
    const headers: IncomingHttpHeaders = {};
    const raw = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      if (line[0] === ' ' || line[0] === '\t') throw new ResponseFormatError('a folded header line');
      const colon = line.indexOf(':');
      const name = colon === -1 ? '' : line.slice(0, colon);
      if (!TOKEN.test(name)) throw new ResponseFormatError('a header name');
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (BAD_VALUE_CHAR.test(value)) throw new ResponseFormatError(`a control character in the ${name} header`);
      const key = name.toLowerCase();
      const list = raw.get(key);
      if (list) list.push(value);
      else raw.set(key, [value]);
    }
    for (const [key, values] of raw) headers[key] = key === 'set-cookie' ? values : values.join(', ');
    if (status < 200) {
      if (status === 101) throw new ResponseFormatError('a protocol switch nobody asked for');
      if (++this.interims > MAX_INTERIM_RESPONSES) throw new ResponseFormatError('more than 10 interim (1xx) responses');
      return 'interim'; // 100 Continue, 103 Early Hints: the final response follows
    }
    const connection = (headers.connection as string | undefined)?.toLowerCase().split(',').map((t) => t.trim()) ?? [];
    this.reusable = minor === 1 && !connection.includes('close');
    this.frame(status, raw);
    return { status, headers, reusable: this.reusable };
  }

  /** How the body is delimited (RFC 9112 §6.3). */
  private frame(status: number, raw: Map<string, string[]>): void {
    const te = raw.get('transfer-encoding');
    const cl = raw.get('content-length');
    if (this.o.method === 'HEAD' || status === 204 || status === 304) {
      this.state = State.FixedBody;
      this.remaining = 0;
      return;
    }
    if (te) {
      if (cl) throw new ResponseFormatError('both Transfer-Encoding and Content-Length');
      const codings = te.join(',').split(',').map((c) => c.trim().toLowerCase()).filter(Boolean);
      if (codings.length !== 1 || codings[0] !== 'chunked') throw new ResponseFormatError(`transfer coding "${te.join(', ')}"`);
      this.state = State.ChunkSize;
      return;
    }
    if (cl) {
      const values = new Set(cl.join(',').split(',').map((v) => v.trim()));
      const [only] = values;
      if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new ResponseFormatError('Content-Length');
      this.state = State.FixedBody;
      this.remaining = Number(only);
      return;
    }
    this.state = State.UntilClose;
    this.reusable = false;
  }
}

/** Where the head's lines end (before its blank line) and its body begins, or -1 when the blank line has not arrived. */
function headEnd(buf: Buffer, from: number): { lines: number; next: number } | -1 {
  for (let nl = buf.indexOf(LF, from); nl !== -1; nl = buf.indexOf(LF, nl + 1)) {
    if (buf[nl + 1] === LF) return { lines: nl, next: nl + 2 };
    if (buf[nl + 1] === CR && buf[nl + 2] === LF) return { lines: nl, next: nl + 3 };
  }
  return -1;
}

/** The size of a chunk-size line ("1a2b;ext=1"), extensions ignored (RFC 9112 §7.1.1). */
function chunkSize(line: Buffer): number {
  const text = line.toString('latin1');
  const m = /^([0-9A-Fa-f]+)[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/.exec(text);
  if (!m || m[1]!.length > MAX_CHUNK_SIZE_DIGITS) throw new ResponseFormatError('chunk size');
  return parseInt(m[1]!, 16);
}

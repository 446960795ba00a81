import { describe, expect, it } from 'vitest';
import { ResponseFormatError, ResponseParser, type ResponseHead } from '../../src/remote/http1/responseParser.js';

interface Parsed {
  head?: ResponseHead;
  body: string;
  ended: boolean;
}

/** Feed `pieces` one after another, taking every step; `closeAfter` tells the parser the connection ended. */
function parse(pieces: (string | Buffer)[], opts: { method?: string; closeAfter?: boolean } = {}): Parsed & { parser: ResponseParser } {
  const parser = new ResponseParser({ method: opts.method ?? 'POST' });
  const out: Parsed = { body: '', ended: false };
  const take = (step: ReturnType<ResponseParser['next']>): void => {
    if (!step) return;
    if (step.kind === 'head') out.head = step.head;
    else if (step.kind === 'body') out.body += step.data.toString('latin1');
    else out.ended = true;
  };
  for (const piece of pieces) {
    parser.feed(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece);
    for (let step = parser.next(), n = 0; step && n < 100_000; step = parser.next(), n++) take(step);
  }
  if (opts.closeAfter) take(parser.closed());
  return { ...out, parser };
}

/** Every split of `text` into pieces of `size` bytes. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const CHUNKED =
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Dup: one\r\nx-dup: two\r\n\r\n' +
  '5\r\nhello\r\n1;ext=yes\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('ResponseParser', () => {
  it('reads a chunked response, whatever the pieces it arrives in (1 byte at a time up to whole)', () => {
    for (const size of [1, 2, 3, 7, 16, 64, CHUNKED.length]) {
      const r = parse(pieces(CHUNKED, size));
      expect(r.head?.status, `pieces of ${size}`).toBe(200);
      expect(r.body, `pieces of ${size}`).toBe('hello 0123456789');
      expect(r.ended).toBe(true);
      expect(r.parser.leftover).toBe(0);
      expect(r.head?.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(r.head?.headers['x-dup']).toBe('one, two');
      expect(r.head?.headers['content-type']).toBe('text/event-stream');
      expect(r.head?.reusable).toBe(true);
    }
  });

  it('reads a Content-Length body, and sees bytes after it as leftover (the connection is not reused)', () => {
    const r = parse(['HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nbodyEXTRA']);
    expect(r.head?.status).toBe(201);
    expect(r.body).toBe('body');
    expect(r.ended).toBe(true);
    expect(r.parser.leftover).toBe(5);
  });

  it('accepts LF alone as a line end and no reason phrase, and skips 1xx interim responses', () => {
    const r = parse(['HTTP/1.1 100 Continue\n\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200\nContent-Length: 2\n\nok']);
    expect(r.head?.status).toBe(200);
    expect(r.head?.headers.link).toBeUndefined();
    expect(r.body).toBe('ok');
  });

  it('has no body for HEAD, 204 and 304, whatever the fields say', () => {
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'], { method: 'HEAD' }).ended).toBe(true);
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n']).ended).toBe(true);
    expect(parse(['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n']).ended).toBe(true);
    // Known right after the head: the connection is free at once.
    const parser = new ResponseParser({ method: 'POST' });
    parser.feed(Buffer.from('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'));
    expect(parser.next()?.kind).toBe('head');
    expect(parser.bodyless).toBe(true);
  });

  it('reads a body without length until the connection closes, and does not keep that connection', () => {
    const r = parse(['HTTP/1.1 200 OK\r\n\r\nall of ', 'this'], { closeAfter: true });
    expect(r.body).toBe('all of this');
    expect(r.ended).toBe(true);
    expect(r.head?.reusable).toBe(false);
  });

  it('does not keep a connection the server closes (Connection: close, HTTP/1.0)', () => {
    expect(parse(['HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n']).head?.reusable).toBe(false);
    expect(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).head?.reusable).toBe(false);
  });

  it('reports a response cut short by the close (a truncated body is never taken for a whole one)', () => {
    for (const cut of ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', 'HTTP/1.1 200 OK\r\nContent-', '']) {
      expect(() => parse([cut], { closeAfter: true }), JSON.stringify(cut)).toThrow(/closed the connection before its response was complete/);
    }
  });

  it.each([
    ['both framings (request smuggling)', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Content-Length values that disagree', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n'],
    ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n'],
    ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['a control character in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n'],
    ['a bare CR', 'HTTP/1.1 200 OK\rX-A: b\r\nContent-Length: 0\r\n\r\n'],
    ['a status line that is not HTTP/1.x', 'HTTP/2 200\r\n\r\n'],
    ['a three-digit status that is not one', 'HTTP/1.1 099 Odd\r\n\r\n'],
    ['a protocol switch nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk size past 2^52', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
    ['more than 10 interim responses', 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(11) + 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parse([text])).toThrow(ResponseFormatError);
  });

  it('refuses a head past 64 KiB, and a chunk line or trailer section past its bound, even fed a byte at a time', () => {
    const long = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`;
    expect(() => parse([long])).toThrow(/response head too long/);
    expect(() => parse(pieces(long.slice(0, 66 * 1024), 4096))).toThrow(/response head too long/);
    expect(() => parse([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(5000)}\r\n`])).toThrow(/chunk size line too long/);
    const trailers = Array.from({ length: 2000 }, (_, i) => `X-T${i}: ${'v'.repeat(40)}\r\n`).join('');
    expect(() => parse(pieces(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${trailers}\r\n`, 1000))).toThrow(/trailer section too long/);
  });

  it('hands the body over as views of the bytes fed (no copy) and reads binary bytes as they are', () => {
    const body = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x80]);
    const fed = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const parser = new ResponseParser({ method: 'GET' });
    parser.feed(fed);
    expect(parser.next()?.kind).toBe('head');
    const step = parser.next();
    expect(step?.kind).toBe('body');
    const data = (step as { data: Buffer }).data;
    expect(Buffer.compare(data, body)).toBe(0);
    expect(data.buffer).toBe(fed.buffer);
    expect(parser.next()?.kind).toBe('end');
  });
});

import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readableBody } from '../../src/remote/bodySource.js';
import { EnvelopeScanner } from '../../src/relay/envelopeScanner.js';
import { readEnvelope } from '../../src/relay/jsonEnvelope.js';
import { MessageWriter } from '../../src/relay/stdoutWriter.js';
import { StreamedMessage } from '../../src/relay/streamedMessage.js';
import { consumeSse, type LargeDataHandler, type SseEvent } from '../../src/remote/sseStream.js';
import { Logger } from '../../src/log/logger.js';

/** Scan `text` cut into pieces at the given offsets. */
function scanInPieces(text: string, cuts: number[]) {
  const buf = Buffer.from(text);
  const scanner = new EnvelopeScanner();
  let from = 0;
  for (const cut of [...cuts, buf.length]) {
    scanner.push(buf.subarray(from, cut));
    from = cut;
  }
  return scanner.finish();
}

const SAMPLES = [
  '{"result":{"content":[{"text":"a \\"quoted\\" } ] { \\\\"}]},"jsonrpc":"2.0","id":0}',
  '{"jsonrpc":"2.0","method":"notifications/progress","params":{"id":"not-this"}}',
  ' { "id" : "a\\u00e4" , "method":"x" } ',
  '{"id":null,"error":{"code":-32700,"message":"x"}}',
  '{"result":{"id":5,"method":"m"},"id":6}',
  '{"a":"\\\\\\\\","id":"\\\\"}',
  '{"id":12345,"result":[1,2,{"k":"\\"}"}]}',
  '{}',
  '{"id":1',
  '{"id":1}}',
  '{"a":"unterminated}',
  '{"id":{}}',
  '{"id":true}',
  '{"a":,"id":1}',
  '{"a":1,}',
];

describe('reading the envelope piece by piece', () => {
  it('gives the same answer as the whole-buffer read for every way of cutting the bytes', () => {
    for (const sample of SAMPLES) {
      const whole = readEnvelope(Buffer.from(sample));
      const n = Buffer.byteLength(sample);
      for (let a = 0; a <= n; a++) {
        expect(scanInPieces(sample, [a]), `${sample} cut at ${a}`).toEqual(whole);
        for (let b = a; b <= n; b += 3) expect(scanInPieces(sample, [a, b]), `${sample} cut at ${a},${b}`).toEqual(whole);
      }
      expect(scanInPieces(sample, Array.from({ length: n }, (_, i) => i))).toEqual(whole);
    }
  });
});

/** A MessageWriter on a PassThrough, and everything written to it. */
function writerOnPipe(highWaterMark = 16) {
  const sink = new PassThrough({ highWaterMark });
  const chunks: Buffer[] = [];
  const writer = new MessageWriter(sink);
  return {
    writer,
    sink,
    read: () => {
      for (let c = sink.read() as Buffer | null; c !== null; c = sink.read() as Buffer | null) chunks.push(c);
      return Buffer.concat(chunks).toString();
    },
  };
}

const quiet = (): Logger => new Logger({ sink: { write: () => true }, level: 'error' });

describe('writing stdout under one lock', () => {
  it('keeps messages whole and in order while a large one is written in pieces, and waits while the pipe is full', async () => {
    const { writer, read } = writerOnPipe();
    const lease = await writer.openMessage();
    const queued = writer.write('{"id":2}'); // waits for the lease
    expect(queued).toBeInstanceOf(Promise);
    const first = lease.write(Buffer.from('{"id":1,"result":'));
    expect(first).toBeInstanceOf(Promise); // over the high-water mark: the caller must wait
    expect(read()).toBe('{"id":1,"result":');
    await first;
    await lease.write(Buffer.from('{}}'));
    const ended = lease.end();
    read();
    await ended;
    read();
    await queued;
    expect(read()).toBe('{"id":1,"result":{}}\n{"id":2}\n');
  });

  it('turns SSE data line breaks outside strings into spaces and cuts a message with one inside a string', async () => {
    const { writer, read } = writerOnPipe(1 << 20);
    const ok = new StreamedMessage(await writer.openMessage(), quiet());
    await ok.write(Buffer.from('{"id":"x",'));
    await ok.lineBreak();
    await ok.write(Buffer.from('"result":\r{"t":"a"}}'));
    expect(await ok.end()).toEqual({ hasMethod: false, hasId: true, id: 'x' });
    const cut = new StreamedMessage(await writer.openMessage(), quiet());
    await cut.write(Buffer.from('{"id":1,"result":"ab'));
    await cut.lineBreak();
    await cut.write(Buffer.from('cd"}'));
    expect(await cut.end()).toBeUndefined();
    const lines = read().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ id: 'x', result: { t: 'a' } });
    expect(lines[1]).toBe('{"id":1,"result":"ab');
    expect(() => JSON.parse(lines[1]!)).toThrow();
  });
});

describe('handing large SSE data lines over in pieces', () => {
  async function run(stream: string[], threshold: number) {
    // One chunk per piece, as a socket delivers them (a PassThrough would join what is buffered).
    const body = readableBody(Readable.from(stream.map((piece) => Buffer.from(piece))));
    const { writer, read } = writerOnPipe(1 << 24);
    const events: SseEvent[] = [];
    const ends: unknown[] = [];
    const large: LargeDataHandler = {
      thresholdBytes: threshold,
      begin: async (type) => {
        if (type !== undefined && type !== 'message') return undefined;
        const m = new StreamedMessage(await writer.openMessage(), quiet());
        return { write: (p) => m.write(p), lineBreak: () => m.lineBreak(), abort: () => m.abort(), end: async () => void ends.push(await m.end()) };
      },
    };
    await consumeSse(body, {}, (ev) => void events.push(ev), large);
    return { out: read(), events, ends };
  }

  it('streams a long data line (CRLF, split anywhere) and leaves short events as they were', async () => {
    const big = `{"jsonrpc":"2.0","result":{"text":"${'x'.repeat(300)}\\r\\n"},"id":7}`;
    const sse = `event: message\r\nid: 1\r\ndata: ${big}\r\n\r\ndata: {"id":8}\n\n`;
    for (const size of [1, 7, 64]) {
      const pieces: string[] = [];
      for (let i = 0; i < sse.length; i += size) pieces.push(sse.slice(i, i + size));
      const { out, events, ends } = await run(pieces, 100);
      expect(out).toBe(`${big}\n`);
      expect(ends).toEqual([{ hasMethod: false, hasId: true, id: 7 }]);
      expect(events.map((e) => e.data.toString())).toEqual(['{"id":8}']);
    }
  });

  it('joins earlier data lines of the event, and leaves events of another type to be joined', async () => {
    const { out, events } = await run(['data: {"id":1,\ndata: "result":"', 'y'.repeat(200), '"}\n\nevent: other\ndata: ', 'z'.repeat(200), '\n\n'], 100);
    expect(JSON.parse(out)).toEqual({ id: 1, result: 'y'.repeat(200) });
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toBe('other');
  });

  it('ends the line when the stream breaks in the middle of a large message', async () => {
    const { out, ends } = await run(['data: {"id":1,"result":"', 'y'.repeat(200)], 100);
    expect(out).toBe(`{"id":1,"result":"${'y'.repeat(200)}\n`);
    expect(ends).toEqual([]);
  });
});

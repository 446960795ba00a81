import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forEachLine } from '../../src/relay/lineReader.js';

describe('stdio line framing', () => {
  it('reassembles lines split across chunks, including multi-byte characters, and strips CR', async () => {
    const text = Buffer.from('{"a":"ä"}\r\n{"b":1}\n{"c":"end"}');
    const chunks = [text.subarray(0, 8), text.subarray(8, 9), text.subarray(9, 15), text.subarray(15)];
    const lines: string[] = [];
    await forEachLine(Readable.from(chunks), (l) => void lines.push(l));
    expect(lines).toEqual(['{"a":"ä"}', '{"b":1}', '{"c":"end"}']);
  });
});

describe('a line longer than the limit', () => {
  it('is dropped up to its newline without being held, reported once, and the next line is read', async () => {
    const long = 'x'.repeat(50);
    const chunks = ['{"a":1}\n', long.slice(0, 20), long.slice(20), `${long}\n{"b":2}\n`, 'y'.repeat(40)];
    const lines: string[] = [];
    const oversize: number[] = [];
    await forEachLine(Readable.from(chunks.map((c) => Buffer.from(c))), (l) => void lines.push(l), {
      maxLineBytes: 30,
      onOversize: (n) => void oversize.push(n),
    });
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    // The 100-byte line, then the 40 bytes at EOF with no newline.
    expect(oversize).toEqual([100, 40]);
  });

  it('accepts a line exactly at the limit', async () => {
    const lines: string[] = [];
    await forEachLine(Readable.from([Buffer.from('abcde\n')]), (l) => void lines.push(l), { maxLineBytes: 5, onOversize: () => undefined });
    expect(lines).toEqual(['abcde']);
  });
});

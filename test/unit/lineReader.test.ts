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

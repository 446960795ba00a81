import { describe, expect, it } from 'vitest';
import { GcPacer } from '../../src/relay/gcPacer.js';

const MiB = 2 ** 20;

function pacer(external: () => number): { pacer: GcPacer; kinds: string[] } {
  const kinds: string[] = [];
  const p = new GcPacer({ gc: { collect: (k) => void kinds.push(k), externalBytes: external }, everyBytes: 4 * MiB, majorAboveExternalBytes: 12 * MiB });
  return { pacer: p, kinds };
}

describe('the GC pacer', () => {
  it('collects once per 4 MiB relayed, however the bytes are split', () => {
    const { pacer: p, kinds } = pacer(() => 0);
    for (let i = 0; i < 64; i++) p.note(MiB / 4); // 16 MiB in quarter-MiB pieces
    p.note(3 * MiB); // not yet a fifth threshold
    expect(kinds).toEqual(['minor', 'minor', 'minor', 'minor']);
    p.note(MiB);
    expect(kinds).toHaveLength(5);
  });

  it('makes the collection a major one only while external memory is above the bound, at most one per 16 MiB', () => {
    let external = 2 * MiB;
    const { pacer: p, kinds } = pacer(() => external);
    p.note(4 * MiB);
    external = 12 * MiB; // at the bound: still minor
    p.note(4 * MiB);
    external = 12 * MiB + 1;
    p.note(4 * MiB); // major
    p.note(4 * MiB); // three minors after it, whatever external memory reads
    p.note(4 * MiB);
    p.note(4 * MiB);
    p.note(4 * MiB); // still above: major again
    external = 3 * MiB;
    for (let i = 0; i < 4; i++) p.note(4 * MiB);
    expect(kinds).toEqual(['minor', 'minor', 'major', 'minor', 'minor', 'minor', 'major', 'minor', 'minor', 'minor', 'minor']);
  });
});

describe('the stdout writer and the GC pacer', () => {
  it('counts every message it writes, text as well as bytes', async () => {
    const { PassThrough } = await import('node:stream');
    const { MessageWriter } = await import('../../src/relay/stdoutWriter.js');
    const sink = new PassThrough();
    sink.resume();
    const { pacer: p, kinds } = pacer(() => 0);
    const writer = new MessageWriter(sink, p);
    await writer.write(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'x'.repeat(3 * MiB) } }));
    expect(kinds).toEqual([]);
    await writer.write(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 2, result: { text: 'y'.repeat(2 * MiB) } })));
    expect(kinds).toEqual(['minor']);
  });
});

import { describe, expect, it } from 'vitest';
import { EnvelopeScanner, type Envelope } from '../../src/relay/envelopeScanner.js';
import { envelopeOf } from '../../src/relay/jsonEnvelope.js';

/**
 * Property: for every input, the envelope the scanner gives is the one JSON.parse of the same bytes
 * gives (through envelopeOf, the parse path's own reading), or the scanner says it cannot agree
 * (undefined). Never a different id. Inputs: generated JSON-RPC-shaped objects with escaped and
 * duplicate keys, odd ids and deep nesting, then mutated (bytes flipped, cut, inserted), each
 * scanned whole and in random pieces. Fixed seed and count: the same inputs every run.
 */

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(0x5eed14);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

/** A key written with random escapes, so "\u0069d" and "i\u0064" are both "id". */
function escapedKey(key: string): string {
  let out = '';
  for (const ch of key) {
    const r = rand();
    if (r < 0.25) out += '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
    else if (r < 0.3) out += '\\u' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return `"${out}"`;
}

function stringValue(): string {
  return pick([
    '"r1"', '""', '"a\\"b"', '"\\\\"', '"\\u00e4\\ud83d\\ude00"', '"\\/\\b\\f\\n\\r\\t"', '"ä}]{["', JSON.stringify('x'.repeat(int(50))),
  ]);
}

function scalar(): string {
  return pick(['0', '-0', '1', '-12', '3.25', '1e3', '-2.5E-7', '1E+2', '12345678901234567890', 'true', 'false', 'null', stringValue()]);
}

function value(depth: number): string {
  const r = rand();
  if (depth > 4 || r < 0.5) return scalar();
  if (r < 0.7) return `[${Array.from({ length: int(4) }, () => value(depth + 1)).join(',')}]`;
  if (r < 0.75) {
    const d = 1 + int(3000); // deep nesting
    return '['.repeat(d) + scalar() + ']'.repeat(d);
  }
  const keys = ['id', 'method', 'x', 'error', 'result'];
  return `{${Array.from({ length: int(4) }, () => `${escapedKey(pick(keys))}:${value(depth + 1)}`).join(',')}}`;
}

function idValue(): string {
  return pick(['1', '0', '-7', '2.5', '1e2', '"r1"', '"r\\u0031"', '"\\u0000"', 'null', 'true', '{}', '[1]', '{"id":2}', JSON.stringify('i'.repeat(4090 + int(20)))]);
}

function message(): string {
  const members: string[] = [];
  const count = int(7);
  for (let k = 0; k < count; k++) {
    const key = pick(['id', 'id', 'method', 'error', 'result', 'jsonrpc', 'params', 'ids', 'i', 'methods', 'idx']);
    const v = key === 'id' ? idValue() : key === 'method' ? stringValue() : value(1);
    members.push(`${escapedKey(key)}${pick(['', ' ', '\t', '\n'])}:${pick(['', ' ', '\r\n'])}${v}`);
  }
  return `${pick(['', ' ', '\n'])}{${members.join(pick([',', ' ,', ', ']))}}${pick(['', ' ', '\t'])}`;
}

const JUNK = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '0', '-', '.', 'e', '\u0001', '\n', 'u', 'ä', 'tru', 'nul'];

function mutate(text: string): string {
  const at = int(text.length + 1);
  switch (int(5)) {
    case 0:
      return text.slice(0, at) + pick(JUNK) + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + int(3));
    case 2:
      return text.slice(0, at);
    case 3:
      return text.slice(0, at) + pick(JUNK) + text.slice(at + 1);
    default:
      return text + pick(JUNK);
  }
}

/** What the JSON.parse path reads, or undefined when JSON.parse refuses the bytes or they are not an object. */
function parsedEnvelope(bytes: Buffer): Envelope | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return undefined;
  return envelopeOf(msg as object);
}

function scanInRandomPieces(bytes: Buffer): Envelope | undefined {
  const scanner = new EnvelopeScanner();
  let from = 0;
  while (from < bytes.length) {
    const to = Math.min(bytes.length, from + 1 + int(rand() < 0.3 ? 4 : 4000));
    scanner.push(bytes.subarray(from, to));
    from = to;
  }
  return scanner.finish();
}

const INPUTS = 3000;

describe('the envelope scanner agrees with JSON.parse or says it cannot', () => {
  it(`holds for ${INPUTS} generated and mutated messages, whole and in pieces`, () => {
    let agreed = 0;
    let refused = 0;
    let invalid = 0;
    let escapedId = 0;
    for (let n = 0; n < INPUTS; n++) {
      let text = message();
      if (text.includes('\\u0069') || text.includes('\\u0064')) escapedId++;
      const mutations = rand() < 0.5 ? 0 : 1 + int(3);
      for (let m = 0; m < mutations; m++) text = mutate(text);
      const bytes = Buffer.from(text);
      const expected = parsedEnvelope(bytes);
      if (expected === undefined) invalid++;
      const scanner = new EnvelopeScanner();
      scanner.push(bytes);
      for (const got of [scanner.finish(), scanInRandomPieces(bytes)]) {
        if (got === undefined) {
          refused++;
          continue;
        }
        expect(expected, `scanner accepted what JSON.parse refuses: ${text.slice(0, 300)}`).toBeDefined();
        expect(got, text.slice(0, 300)).toEqual(expected);
        agreed++;
      }
    }
    // The generator must reach both sides of the property and the escaped-key case.
    expect(invalid).toBeGreaterThan(INPUTS / 10);
    expect(agreed).toBeGreaterThan(INPUTS / 2);
    expect(escapedId).toBeGreaterThan(INPUTS / 20);
    expect(refused).toBeGreaterThan(0);
  });

  it('finds a quote, backslash or control character at every position and alignment of a long string', () => {
    for (let offset = 0; offset < 4; offset++) {
      for (let at = 0; at < 70; at++) {
        for (const [stop, valid] of [['\u0001', false], ['\u001f', false], ['\\n', true], ['\\"', true], ['\u007f', true], ['\u00ff', true]] as const) {
          const text = `{"result":"${'a'.repeat(at)}${stop}${'b'.repeat(70 - at)}","id":${at}}`;
          // A piece that starts at any byte offset of its ArrayBuffer (as socket reads do).
          const backing = Buffer.alloc(offset + Buffer.byteLength(text));
          backing.write(text, offset);
          const sc = new EnvelopeScanner();
          sc.push(backing.subarray(offset));
          expect(sc.finish(), `${JSON.stringify(text)} at offset ${offset}`).toEqual(valid ? { hasMethod: false, hasId: true, id: at } : undefined);
        }
      }
    }
  });

  it('finds a stop anywhere in a run long enough for the native search, at every alignment', () => {
    // Past ~1 KiB a run is searched with Buffer#indexOf for quotes and backslashes and by words
    // for control characters: stops around that point and far past it.
    const positions = [0, 1, 5, 17, 63, 64, 65, ...Array.from({ length: 24 }, (_, i) => 1016 + i), 1500, 4093, 9000];
    for (let offset = 0; offset < 4; offset++) {
      for (const at of positions) {
        for (const [stop, valid] of [['\u0001', false], ['\u001f', false], ['\\n', true], ['\\"', true], ['\\\\', true], ['\\u00e9', true], ['\u00e9', true], ['\u007f', true]] as const) {
          const text = `{"result":"${'a'.repeat(at)}${stop}${'b'.repeat(2100)}","id":${at}}`;
          const backing = Buffer.alloc(offset + Buffer.byteLength(text));
          backing.write(text, offset);
          const sc = new EnvelopeScanner();
          sc.push(backing.subarray(offset));
          expect(sc.finish(), `${JSON.stringify(stop)} after ${at} bytes, at offset ${offset}`).toEqual(valid ? { hasMethod: false, hasId: true, id: at } : undefined);
        }
      }
    }
  });

  it('checks the escapes among string bytes in place and across the end of a piece, split at every byte', () => {
    // Escapes of every kind between runs short, medium and long (past the native search's start).
    const runs = ['x', 'ab', 'q'.repeat(40), 'r'.repeat(1100), 's'.repeat(3), 't'.repeat(2000), 'u'];
    const escapes = ['\\n', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\r', '\\t', '\\u0041', '\\u00e9', '\\uD83D\\uDE00'];
    let body = '';
    for (let i = 0; i < 3 * escapes.length; i++) body += runs[i % runs.length]! + escapes[i % escapes.length]!;
    const good = `{"id":3,"result":{"text":"${body}"}}`;
    expect(JSON.parse(good)).toBeTruthy();
    const bad = [`{"id":3,"result":"${body}\\x"}`, `{"id":3,"result":"${body}\\u12g4"}`, `{"id":3,"result":"${body}\u0002"}`];
    for (const b of bad) expect(() => JSON.parse(b)).toThrow();
    const inTwo = (text: string, at: number): Envelope | undefined => {
      const bytes = Buffer.from(text);
      const sc = new EnvelopeScanner();
      sc.push(bytes.subarray(0, at));
      sc.push(bytes.subarray(at));
      return sc.finish();
    };
    const goodLength = Buffer.byteLength(good);
    for (let at = 0; at <= goodLength; at++) {
      const got = inTwo(good, at);
      if (got?.id !== 3) expect(got, `good, split at ${at}`).toEqual({ hasMethod: false, hasId: true, id: 3 });
    }
    for (const b of bad) {
      // Split around the bad escape at its end, and at a few places before it.
      const length = Buffer.byteLength(b);
      for (const at of [0, 1, 700, 1500, length - 12, length - 9, length - 8, length - 7, length - 6, length - 5, length - 4, length - 3, length - 2, length - 1]) {
        expect(inTwo(b, at), `${b.slice(-12)}, split at ${at}`).toBeUndefined();
      }
    }
  });

  it('decodes escaped keys and takes the last duplicate, as JSON.parse does', () => {
    const scan = (s: string) => {
      const sc = new EnvelopeScanner();
      sc.push(Buffer.from(s));
      return sc.finish();
    };
    expect(scan('{"\\u0069d":7,"result":1}')).toEqual({ hasMethod: false, hasId: true, id: 7 });
    expect(scan('{"id":1,"i\\u0064":2}')).toEqual({ hasMethod: false, hasId: true, id: 2 });
    expect(scan('{"id":"a","id":{}}')).toEqual({ hasMethod: false, hasId: true, id: undefined });
    expect(scan('{"id":1,"\\u006dethod":"x"}')).toEqual({ hasMethod: true, hasId: true, id: 1 });
    for (const bad of ['{"id":1,"x":01}', '{"id":1,"x":"\u0001"}', '{"id":1,"x":"\\x"}', '{"id":1,"x":"\\u12g4"}', '{"id":1,"x":[}', '{"id":1,"x":tru}', '{"id":1,"x":1.}', '{"id":1,"x":-}', '{"id":1,"x":[1,]}', '{"id":1,"x":{"a"}}']) {
      expect(scan(bad), bad).toBeUndefined();
    }
  });
});

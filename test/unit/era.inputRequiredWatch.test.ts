import { describe, expect, it } from 'vitest';
import { InputRequiredWatch } from '../../src/remote/era/inputRequiredWatch.js';

/** The watch's verdict on text fed whole, and at every single split point. */
function verdicts(text: string): boolean[] {
  const buf = Buffer.from(text);
  const out: boolean[] = [];
  for (let cut = 0; cut <= buf.length; cut++) {
    const w = new InputRequiredWatch();
    w.push(buf.subarray(0, cut));
    w.push(buf.subarray(cut));
    out.push(w.maybe);
  }
  return out;
}

/** Every string value and key in a parsed JSON value. */
function strings(v: unknown, acc: string[] = []): string[] {
  if (typeof v === 'string') acc.push(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, acc));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) acc.push(k), strings(x, acc);
  return acc;
}

/** A small deterministic generator (xorshift), so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('InputRequiredWatch: can JSON.parse of these bytes give the string "input_required"?', () => {
  it('sees the word as it is, wherever the pieces are cut', () => {
    const answer = JSON.stringify({ result: { content: [{ type: 'text', text: 'x'.repeat(100) }], resultType: 'input_required' }, jsonrpc: '2.0', id: 1 });
    expect(verdicts(answer).every(Boolean)).toBe(true);
  });

  it('sees a letter or the underscore spelled as a \\u00XX escape (either case), wherever cut', () => {
    for (const spelled of ['"\\u0069nput_required"', '"input\\u005frequired"', '"input\\u005Frequired"', '"inpu\\u0074_re\\u0071uired"']) {
      expect(JSON.parse(spelled)).toBe('input_required');
      expect(verdicts(`{"result":{"resultType":${spelled}}}`).every(Boolean)).toBe(true);
    }
  });

  it('an ordinary large result, other escapes, and the word without its quotes are not it', () => {
    const text = 'plain text with "quotes", \\ backslashes, a tab\t, a newline\n, ü, 中文, \u0007 and the phrase input_required in it';
    const answer = JSON.stringify({ result: { content: [{ type: 'text', text: text.repeat(50) }], resultType: 'complete' }, jsonrpc: '2.0', id: 1 });
    expect(answer).toContain('\\u0007');
    expect(verdicts(answer).some(Boolean)).toBe(false);
    // ensure_ascii style (every non-ASCII character escaped) is not taken for the word either.
    const asciiOnly = answer.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(verdicts(asciiOnly).some(Boolean)).toBe(false);
  });

  it('a line break between pieces joins nothing into the word', () => {
    const w = new InputRequiredWatch();
    w.push(Buffer.from('{"a":"input_'));
    w.lineBreak();
    w.push(Buffer.from('required"}'));
    expect(w.maybe).toBe(false);
  });

  it('never says no when JSON.parse gives the string (generated messages, in random pieces)', () => {
    const next = rng(20260728);
    const atoms = ['input_required', 'input', '_required', 'required', 'resultType', '"', '\\', '\\u0069', 'ü', 'x', ' ', '\n', '\u0001', 'complete'];
    let positives = 0;
    for (let n = 0; n < 2000; n++) {
      const parts: string[] = [];
      for (let k = Math.floor(next() * 6); k >= 0; k--) parts.push(atoms[Math.floor(next() * atoms.length)]!);
      const value = next() < 0.3 ? 'input_required' : parts.join('');
      // Escape some characters of the generated string as \u00XX, as a gateway's JSON writer may.
      let json = JSON.stringify({ result: { [next() < 0.5 ? 'resultType' : 'note']: value }, id: n });
      json = json.replace(/[a-z_]/g, (c) => (next() < 0.05 ? `\\u00${c.charCodeAt(0).toString(16)}` : c));
      const truth = strings(JSON.parse(json)).includes('input_required');
      if (truth) positives++;
      const buf = Buffer.from(json);
      const w = new InputRequiredWatch();
      for (let at = 0; at < buf.length; ) {
        const len = 1 + Math.floor(next() * 20);
        w.push(buf.subarray(at, at + len));
        at += len;
      }
      if (truth) expect(w.maybe, json).toBe(true);
    }
    expect(positives).toBeGreaterThan(300);
  });
});

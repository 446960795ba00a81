import { describe, expect, it } from 'vitest';
import { readEnvelope } from '../../src/relay/jsonEnvelope.js';

const env = (s: string) => readEnvelope(Buffer.from(s));

describe('reading the routing envelope from bytes', () => {
  it('finds id and method whatever their order, skipping large and tricky values', () => {
    expect(env('{"result":{"content":[{"text":"a \\"quoted\\" } ] { \\\\"}]},"jsonrpc":"2.0","id":0}')).toEqual({ hasMethod: false, hasId: true, id: 0 });
    expect(env('{"jsonrpc":"2.0","method":"notifications/progress","params":{"id":"not-this"}}')).toEqual({ hasMethod: true, hasId: false });
    expect(env(' { "id" : "a\\u00e4" , "method":"x" } ')).toEqual({ hasMethod: true, hasId: true, id: 'aä' });
    expect(env('{"id":null,"error":{"code":-32700,"message":"x"}}')).toEqual({ hasMethod: false, hasId: true, id: null, hasError: true });
    const big = 'x'.repeat(1 << 20);
    expect(env(`{"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"${big}"}]},"id":"r1"}`)).toEqual({ hasMethod: false, hasId: true, id: 'r1' });
  });
  it('does not take nested "id" or "method" keys for top-level ones', () => {
    expect(env('{"result":{"id":5,"method":"m"},"id":6}')).toEqual({ hasMethod: false, hasId: true, id: 6 });
  });
  it('reads a non-scalar id as JSON.parse does: present, not usable', () => {
    expect(env('{"id":{"a":[1]}}')).toEqual({ hasMethod: false, hasId: true, id: undefined });
  });
  it('refuses broken structure so the caller falls back to a real parse', () => {
    for (const bad of ['', '[1]', '{"id":1', '{"id":1}}', '{"a":"unterminated}', '{id:1}', '{"a":[1,2}', '{"id":1} x']) {
      expect(env(bad)).toBeUndefined();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { classify, idOf } from '../../src/relay/jsonRpc.js';

describe('JSON-RPC classification', () => {
  it('treats id 0 and empty-string ids as ids', () => {
    expect(classify({ jsonrpc: '2.0', id: 0, method: 'ping' })).toEqual({ kind: 'request' });
    expect(classify({ jsonrpc: '2.0', id: '', result: {} })).toEqual({ kind: 'response' });
    expect(idOf({ id: 0 })).toBe(0);
  });
  it('tells notifications from requests', () => {
    expect(classify({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual({ kind: 'notification' });
  });
  it('rejects what is not JSON-RPC 2.0', () => {
    expect(classify([1])).toHaveProperty('invalid');
    expect(classify({ id: 1, method: 'x' })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: {}, method: 'x' })).toHaveProperty('invalid');
    expect(classify({ jsonrpc: '2.0', id: 1 })).toHaveProperty('invalid');
  });
});

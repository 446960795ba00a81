import { describe, expect, it } from 'vitest';
import { jsonRpcErrorOf, modernErrorOf, supportedVersionsOf } from '../../src/remote/era/modernError.js';
import { answerBeforeInitialize } from '../../src/remote/era/beforeInitialize.js';

const body = (error: unknown, id: unknown = 1) => JSON.stringify({ jsonrpc: '2.0', id, error });

describe('modern error bodies (2026-07-28 Streamable HTTP, Backward Compatibility)', () => {
  it('recognises the spec-reserved codes on a 400', () => {
    expect(modernErrorOf(400, body({ code: -32020, message: 'Header mismatch' }))?.code).toBe(-32020);
    expect(modernErrorOf(400, body({ code: -32021, message: 'Missing capability' }))?.code).toBe(-32021);
    const unsupported = modernErrorOf(400, body({ code: -32022, message: 'x', data: { supported: ['2026-07-28'] } }));
    expect(unsupported && supportedVersionsOf(unsupported)).toEqual(['2026-07-28']);
  });

  it('-32022 without a supported list, legacy codes, and non-JSON bodies are not modern', () => {
    expect(modernErrorOf(400, body({ code: -32022, message: 'x' }))).toBeUndefined();
    expect(modernErrorOf(400, body({ code: -32000, message: 'Bad Request: Server not initialized' }, null))).toBeUndefined();
    expect(modernErrorOf(400, '')).toBeUndefined();
    expect(modernErrorOf(404, '<html>Cannot POST /sse</html>')).toBeUndefined();
    expect(modernErrorOf(405, body({ code: -32000, message: 'Method not allowed' }, null))).toBeUndefined();
    expect(jsonRpcErrorOf('{"error":{"code":-32020}}')).toBeUndefined();
  });

  it('a 404 with method-not-found is a modern server, not a missing endpoint', () => {
    expect(modernErrorOf(404, body({ code: -32601, message: 'Method not found' }))?.code).toBe(-32601);
    expect(modernErrorOf(400, body({ code: -32601, message: 'Method not found' }))).toBeUndefined();
  });
});

describe('messages before initialize', () => {
  it('answers ping, refuses other requests with -32601 under their own id, drops notifications', () => {
    expect(answerBeforeInitialize({ jsonrpc: '2.0', id: 0, method: 'ping' })).toEqual({
      kind: 'answer',
      message: { jsonrpc: '2.0', id: 0, result: {} },
    });
    const discover = answerBeforeInitialize({ jsonrpc: '2.0', id: 'd', method: 'server/discover' });
    expect(discover.kind === 'answer' && discover.message).toMatchObject({ id: 'd', error: { code: -32601 } });
    expect(answerBeforeInitialize({ jsonrpc: '2.0', method: 'notifications/cancelled' }).kind).toBe('drop');
  });
});

import { describe, expect, it } from 'vitest';
import { bytesBody } from '../../src/remote/bodySource.js';
import { Redactor } from '../../src/log/redact.js';
import { httpStatusError } from '../../src/remote/remoteErrors.js';

const URL_ = new URL('https://gw.example.com/mcp');
const answer = (status: number, body: string) => ({ status, headers: {}, body: bytesBody(Buffer.from(body)) });

describe('httpStatusError', () => {
  it('keeps a short excerpt of the body as a hint', async () => {
    const err = await httpStatusError(answer(500, '{"error":"database\n  down"}'), URL_);
    expect(err.message).toBe('the gateway failed: HTTP 500 from https://gw.example.com — {"error":"database down"}');
    expect(err.code).toBe('remote_5xx');
  });

  it('masks credentials a gateway echoes back: registered secrets and token shapes', async () => {
    const redactor = new Redactor();
    redactor.addSecret('x-api-key-value-123456');
    const body = JSON.stringify({ received: { 'x-api-key': 'x-api-key-value-123456', authorization: 'Bearer opaque-token-abcdef' }, jwt: 'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl' });
    const err = await httpStatusError(answer(500, body), URL_, redactor);
    expect(err.message).not.toContain('x-api-key-value-123456');
    expect(err.message).not.toContain('opaque-token-abcdef');
    expect(err.message).not.toContain('eyJzdWIiOi');
    expect(err.message).toContain('[REDACTED');
    // Without the run's redactor, token shapes are still masked.
    const shapesOnly = await httpStatusError(answer(502, body), URL_);
    expect(shapesOnly.message).not.toContain('opaque-token-abcdef');
  });

  it('masks before cutting, so a secret straddling the excerpt limit leaves no prefix', async () => {
    const secret = 'S3cr3t-straddling-the-cut-0123456789';
    const redactor = new Redactor();
    redactor.addSecret(secret);
    const err = await httpStatusError(answer(500, `${'x'.repeat(290)}${secret}`), URL_, redactor);
    expect(err.message).not.toContain(secret.slice(0, 10));
  });
});

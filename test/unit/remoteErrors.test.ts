import { describe, expect, it } from 'vitest';
import { bytesBody } from '../../src/remote/bodySource.js';
import { Redactor } from '../../src/log/redact.js';
import { notWritten } from '../../src/remote/http1/failures.js';
import { describeNetworkError, httpStatusError } from '../../src/remote/remoteErrors.js';
import { NOT_WRITTEN } from '../../src/remote/retryPolicy.js';

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

describe('describeNetworkError', () => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  it('tells the user what happened to a connection that never came up, and the retry policy that it was not sent', () => {
    const err = describeNetworkError(notWritten(reset), URL_);
    expect(err.networkCode).toBe(NOT_WRITTEN);
    expect(err.message).toContain('(ECONNRESET): the connection was reset by the gateway or a proxy');
    expect(err.message).toContain('the request was not sent');
    expect(err.message).not.toContain(NOT_WRITTEN);
  });
  it('keeps the code of a certificate error and of a connect timeout (their hints; no retry of a tools/call)', () => {
    const cert = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(notWritten(cert)).toBe(cert);
    expect(describeNetworkError(notWritten(cert), URL_).message).toContain('NODE_EXTRA_CA_CERTS');
    const timeout = Object.assign(new Error('connect to gw timed out'), { code: 'ETIMEDOUT' });
    expect(describeNetworkError(notWritten(timeout), URL_).networkCode).toBe('ETIMEDOUT');
  });
});

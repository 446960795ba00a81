import { describe, expect, it } from 'vitest';
import { MAX_RETRIES, NOT_WRITTEN, parseRetryAfter, retryDelay } from '../../src/remote/retryPolicy.js';

const base = { attempt: 1, idempotent: true, now: Date.parse('2026-01-01T00:00:00Z'), random: 0.5 };

describe('retry policy', () => {
  it('honours Retry-After in seconds and as an HTTP date on 429 and 503, even for tools/call', () => {
    expect(retryDelay({ ...base, idempotent: false, status: 503, retryAfter: '2' })).toBe(2000);
    expect(retryDelay({ ...base, idempotent: false, status: 429, retryAfter: 'Thu, 01 Jan 2026 00:00:05 GMT' })).toBe(5000);
  });
  it('gives up on a Retry-After too long to wait', () => {
    expect(retryDelay({ ...base, status: 503, retryAfter: '3600' })).toBeUndefined();
  });
  it('never replays a non-idempotent call that may have reached the gateway', () => {
    expect(retryDelay({ ...base, idempotent: false, status: 502 })).toBeUndefined();
    expect(retryDelay({ ...base, idempotent: false, errorCode: 'ECONNRESET' })).toBeUndefined();
    expect(retryDelay({ ...base, idempotent: true, status: 504 })).toBeGreaterThan(0);
  });
  it('retries anything that was provably not delivered', () => {
    expect(retryDelay({ ...base, idempotent: false, errorCode: 'ECONNREFUSED' })).toBeGreaterThan(0);
    // A connection that never came up (a TLS handshake reset): not sent, so a tools/call goes again too, after the backoff.
    expect(retryDelay({ ...base, idempotent: false, errorCode: NOT_WRITTEN })).toBeGreaterThan(0);
  });
  it('a reset on a reused keep-alive socket may have been delivered: a tools/call is not sent again (regression)', () => {
    expect(retryDelay({ ...base, idempotent: false, errorCode: 'ECONNRESET', reusedSocket: true })).toBeUndefined();
    expect(retryDelay({ ...base, idempotent: true, errorCode: 'ECONNRESET', reusedSocket: true })).toBeGreaterThan(0);
  });
  it('is bounded', () => {
    expect(retryDelay({ ...base, attempt: MAX_RETRIES + 1, errorCode: 'ECONNREFUSED' })).toBeUndefined();
    expect(retryDelay({ ...base, status: 500 })).toBeUndefined();
  });
  it('parses Retry-After forms', () => {
    expect(parseRetryAfter('0', 0)).toBe(0);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});

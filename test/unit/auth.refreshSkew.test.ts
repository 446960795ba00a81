import { describe, expect, it } from 'vitest';
import { EXPIRY_SKEW_MS, refreshSkewMs } from '../../src/auth/authSession.js';

describe('refreshSkewMs', () => {
  it('is 60 s for ordinary tokens and for tokens without an expiry', () => {
    expect(refreshSkewMs({ obtainedAt: 0, expiresAt: 3_600_000 })).toBe(EXPIRY_SKEW_MS);
    expect(refreshSkewMs({ obtainedAt: 0, expiresAt: undefined })).toBe(EXPIRY_SKEW_MS);
  });

  it('is a third of the lifetime of a short-lived token, so a fresh token is not refreshed again at once', () => {
    expect(refreshSkewMs({ obtainedAt: 1_000, expiresAt: 4_000 })).toBe(1_000);
    expect(refreshSkewMs({ obtainedAt: 0, expiresAt: 90_000 })).toBe(30_000);
    expect(refreshSkewMs({ obtainedAt: 5_000, expiresAt: 1_000 })).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { Redactor, redactShapes } from '../../src/log/redact.js';

describe('redaction', () => {
  it('masks JWTs, bearer values and token-ish parameters', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
    const out = redactShapes(`got ${jwt} and Authorization: Bearer abcdefgh12345678xyz and ?code=xyz123&state=s1 {"refresh_token":"rt-1"}`);
    expect(out).not.toContain(jwt);
    expect(out).not.toContain('abcdefgh12345678xyz');
    expect(out).not.toContain('xyz123');
    expect(out).not.toContain('rt-1');
    // state is not a credential, and the user needs the full authorization URL
    expect(out).toContain('state=s1');
  });
  it('masks registered exact secrets wherever they appear', () => {
    const r = new Redactor();
    r.addSecret('opaque-secret-value');
    expect(r.redact('header x-api-key=opaque-secret-value!')).toBe('header x-api-key=[REDACTED]!');
  });
});

describe('redaction leaves prose alone', () => {
  it('does not mask the words of a sentence about a Bearer challenge', () => {
    expect(redactShapes('the gateway sent a Bearer challenge without scope')).toBe('the gateway sent a Bearer challenge without scope');
  });
});

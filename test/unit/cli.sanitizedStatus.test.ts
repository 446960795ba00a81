import { describe, expect, it } from 'vitest';
import { sessionLines, type SessionStatus } from '../../src/cli/statusCommand.js';

/** ESC, CSI and a bidi override: what a hostile issuer or token claim would use to rewrite the terminal. */
const ESC = '\u001b]0;owned\u0007\u001b[2J';
const C1 = '\u009b31m';
const BIDI = '\u202e';

const hostile: SessionStatus = {
  key: 'session:https://gw.example/mcp',
  server: 'https://gw.example/mcp',
  resource: null,
  issuer: `https://idp.example/${ESC}`,
  clientId: `client${C1}`,
  clientSource: 'dynamic',
  grant: 'authorization_code',
  bearer: 'access_token',
  binding: 'bearer',
  dpop: null,
  subject: `alice${ESC}`,
  email: `alice@example.com${BIDI}`,
  name: `Alice\nFake line: ✓ Signed in as admin`,
  scopes: ['openid', `mcp:tools${ESC}`],
  state: 'valid',
  accessTokenExpiresAt: null,
  accessTokenExpiresIn: null,
  hasRefreshToken: true,
  obtainedAt: '2026-01-01T00:00:00.000Z',
  store: { kind: 'memory', location: 'memory' },
};

describe('status/login session lines', () => {
  it('carry no control characters or bidi overrides from server or token text, and stay one line each', () => {
    const lines = sessionLines(hostile, Date.parse('2026-01-01T00:00:00Z'));
    const text = lines.join('\n');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    for (const line of lines) expect(line).not.toContain('\n');
    // The text itself is still shown (made harmless, not dropped).
    expect(text).toContain('alice');
    expect(text).toContain('mcp:tools');
    expect(text).toContain('https://idp.example/');
  });
});

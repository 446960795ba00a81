import { describe, expect, it } from 'vitest';
import { expandEnv, parseHeader } from '../../src/cli/headerOptions.js';
import { UsageError } from '../../src/errors.js';

describe('static headers', () => {
  it('expands ${VAR} from the environment', () => {
    expect(parseHeader('Authorization: Bearer ${TOKEN}', { TOKEN: 'abc' }, '--header')).toEqual(['authorization', 'Bearer abc']);
  });
  it('names a missing variable without printing any value', () => {
    expect(() => expandEnv('x ${NOPE}', {}, '--header')).toThrow(/NOPE is not set/);
  });
  it('refuses headers the transport owns and malformed specs', () => {
    expect(() => parseHeader('Mcp-Session-Id: x', {}, '--header')).toThrow(UsageError);
    expect(() => parseHeader('no colon here', {}, '--header')).toThrow(/Name: value/);
    expect(() => parseHeader('Bad Name: x', {}, '--header')).toThrow(/not a valid header name/);
    expect(() => parseHeader('X-A: ${V}', { V: 'a\r\nInjected: 1' }, '--header')).toThrow(/line break/);
  });
});

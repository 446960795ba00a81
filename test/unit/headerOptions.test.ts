import { describe, expect, it } from 'vitest';
import { envHeaders, expandEnv, parseHeader } from '../../src/cli/headerOptions.js';
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
  it('--bearer-env and --header-env read a named variable, with no $ for a client to expand', () => {
    const env = { GW_TOKEN: ' tok-123\n', KEY: 'k${NOT_EXPANDED}' };
    expect(envHeaders({ bearerEnv: 'GW_TOKEN', headerEnv: ['X-Api-Key=KEY'] }, env)).toEqual([
      ['x-api-key', 'k${NOT_EXPANDED}'],
      ['authorization', 'Bearer tok-123'],
    ]);
    expect(() => envHeaders({ bearerEnv: '${GW_TOKEN}' }, env)).toThrow(/not an environment variable name/);
    expect(() => envHeaders({ bearerEnv: 'MISSING' }, env)).toThrow(/MISSING is not set/);
    expect(() => envHeaders({ headerEnv: ['X-Api-Key'] }, env)).toThrow(/Name=VAR/);
    expect(() => envHeaders({ headerEnv: ['Host=KEY'] }, env)).toThrow(/set by the transport/);
    expect(() => envHeaders({ bearerEnv: 'SPACED' }, { SPACED: 'a b' })).toThrow(/whitespace/);
  });
});

import { describe, expect, it } from 'vitest';
import { encodeHeaderValue, headerParamsOf, paramHeaders, standardHeaders } from '../../src/remote/era/requestHeaders.js';
import { inputRequiredOf, fulfilInputRequests, MissingIdeCapability } from '../../src/remote/era/inputRequired.js';
import { legacyVersionFor, pickModernVersion } from '../../src/remote/era/protocolVersions.js';

describe('Mcp-* header values (SEP-2243 value encoding)', () => {
  it('keeps plain ASCII and base64-encodes the rest, as the spec table shows', () => {
    expect(encodeHeaderValue('us-west1')).toBe('us-west1');
    expect(encodeHeaderValue('us west 1')).toBe('us west 1');
    expect(encodeHeaderValue('Hello, 世界')).toBe('=?base64?SGVsbG8sIOS4lueVjA==?=');
    expect(encodeHeaderValue(' padded ')).toBe('=?base64?IHBhZGRlZCA=?=');
    expect(encodeHeaderValue('line1\nline2')).toBe('=?base64?bGluZTEKbGluZTI=?=');
    expect(encodeHeaderValue('=?base64?literal?=')).toBe('=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=');
    expect(encodeHeaderValue('\tindented')).toMatch(/^=\?base64\?/);
  });

  it('names the method and the tool, prompt or resource', () => {
    expect(standardHeaders('tools/call', { name: 'get_weather' }, '2026-07-28')).toEqual({
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'get_weather',
    });
    expect(standardHeaders('resources/read', { uri: 'file:///a b' }, 'v')['mcp-name']).toBe('file:///a b');
    expect(standardHeaders('tools/list', {}, 'v')['mcp-name']).toBeUndefined();
  });
});

describe('x-mcp-header designations', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      priority: { type: 'integer', 'x-mcp-header': 'Priority' },
      verbose: { type: 'boolean', 'x-mcp-header': 'Verbose' },
      nested: { type: 'object', properties: { tenant: { type: 'string', 'x-mcp-header': 'Tenant' } } },
      query: { type: 'string' },
    },
  };

  it('mirrors present values (integers, booleans as true/false), omits null and absent ones', () => {
    const v = headerParamsOf(schema);
    expect('params' in v).toBe(true);
    if (!('params' in v)) return;
    expect(paramHeaders(v.params, { region: 'eu', priority: 42, verbose: false, nested: { tenant: 'ä' }, query: 'x' })).toEqual({
      'mcp-param-region': 'eu',
      'mcp-param-priority': '42',
      'mcp-param-verbose': 'false',
      'mcp-param-tenant': '=?base64?w6Q=?=',
    });
    expect(paramHeaders(v.params, { region: null, priority: 1 })).toEqual({ 'mcp-param-priority': '1' });
  });

  it.each([
    ['empty', { value: { type: 'string', 'x-mcp-header': '' } }],
    ['on an object', { data: { type: 'object', 'x-mcp-header': 'Data' } }],
    ['on an array', { items: { type: 'array', 'x-mcp-header': 'Items' } }],
    ['on null', { nil: { type: 'null', 'x-mcp-header': 'Nil' } }],
    ['on number', { score: { type: 'number', 'x-mcp-header': 'Score' } }],
    ['a space', { value: { type: 'string', 'x-mcp-header': 'My Region' } }],
    ['a colon', { value: { type: 'string', 'x-mcp-header': 'Region:Primary' } }],
    ['non-ASCII', { value: { type: 'string', 'x-mcp-header': 'Région' } }],
    ['a control character', { value: { type: 'string', 'x-mcp-header': 'Region\t1' } }],
    ['twice ignoring case', { a: { type: 'string', 'x-mcp-header': 'MyField' }, b: { type: 'string', 'x-mcp-header': 'myfield' } }],
  ])('rejects a tool whose annotation is %s', (_what, properties) => {
    expect(headerParamsOf({ type: 'object', properties })).toHaveProperty('invalid');
  });

  it('rejects an annotation reachable only through items or a composition keyword', () => {
    expect(headerParamsOf({ type: 'object', properties: { l: { type: 'array', items: { type: 'string', 'x-mcp-header': 'L' } } } })).toHaveProperty('invalid');
    expect(headerParamsOf({ type: 'object', anyOf: [{ properties: { r: { type: 'string', 'x-mcp-header': 'R' } } }] })).toHaveProperty('invalid');
  });
});

describe('input_required', () => {
  it('reads the requests and keeps requestState as given; no resultType is complete', () => {
    expect(inputRequiredOf({ content: [] })).toBeUndefined();
    expect(inputRequiredOf({ resultType: 'complete' })).toBeUndefined();
    expect(inputRequiredOf({ resultType: 'input_required', inputRequests: { a: { method: 'roots/list' } }, requestState: ' {"x": 1} ' })).toEqual({
      inputRequests: { a: { method: 'roots/list', params: undefined } },
      requestState: ' {"x": 1} ',
    });
    expect(inputRequiredOf({ resultType: 'input_required', inputRequests: {} })).not.toHaveProperty('requestState');
  });

  it('asks only for what the IDE declared, and gives URL elicitations the id a 2025 IDE needs', async () => {
    const asked: unknown[] = [];
    const ask = async (method: string, params: unknown) => (asked.push({ method, params }), { action: 'accept' });
    const input = { inputRequests: { u: { method: 'elicitation/create', params: { mode: 'url', url: 'https://x', message: 'm' } } } };
    await expect(fulfilInputRequests({ input, ideCapabilities: { elicitation: {} }, ask })).rejects.toBeInstanceOf(MissingIdeCapability);
    const done = await fulfilInputRequests({ input, ideCapabilities: { elicitation: { url: {} } }, ask });
    expect(done.responses).toEqual({ u: { action: 'accept' } });
    expect((asked[0] as { params: { elicitationId: string } }).params.elicitationId).toBe(done.urlElicitations[0]);
    await expect(fulfilInputRequests({ input: { inputRequests: { s: { method: 'sampling/createMessage' } } }, ideCapabilities: {}, ask })).rejects.toThrow(/sampling/);
  });
});

describe('protocol versions', () => {
  it('answers initialize with the version the IDE asked for when it is one the bridge serves', () => {
    expect(legacyVersionFor('2025-06-18')).toBe('2025-06-18');
    expect(legacyVersionFor('1999-01-01')).toBe('2025-11-25');
    expect(pickModernVersion(['2027-01-01', '2026-07-28'])).toBe('2026-07-28');
    expect(pickModernVersion(['2027-01-01'])).toBeUndefined();
  });
});

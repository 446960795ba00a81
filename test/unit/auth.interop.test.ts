import { describe, expect, it } from 'vitest';
import { unverifiedJwtClaims } from '../../src/auth/assertionSource.js';
import { basicCredentials } from '../../src/auth/clientSecretBasic.js';
import { registrationAuthMethod } from '../../src/auth/clientRegistration.js';
import { resourceCovers } from '../../src/auth/discovery.js';
import { isOpenIdProvider, promptFor, withOfflineAccess } from '../../src/auth/offlineAccess.js';
import { normaliseRegistrationResponse } from '../../src/auth/registrationResponse.js';
import { AuthRefusedError } from '../../src/errors.js';
import { judge, parseScenarioList } from '../../scripts/conformance/outcome.js';
import { bridgeInvocation, CONFORMANCE_CIMD_URL } from '../../scripts/conformance/scenarioFlags.js';

const decodeBasic = (h: string): string => Buffer.from(h.replace(/^Basic /, ''), 'base64').toString('utf8');

describe('client_secret_basic encoding', () => {
  it('sends unreserved-only credentials as they are (servers that never decode still match)', () => {
    expect(decodeBasic(basicCredentials('pre-registered-client', 'pre-registered-secret'))).toBe('pre-registered-client:pre-registered-secret');
    expect(decodeBasic(basicCredentials('a.b_c~d', 'X9-_.~'))).toBe('a.b_c~d:X9-_.~');
  });

  it('form-encodes anything that could not be sent unambiguously (RFC 6749 §2.3.1)', () => {
    expect(decodeBasic(basicCredentials('id:with:colons', 's3cr3t'))).toBe('id%3Awith%3Acolons:s3cr3t');
    expect(decodeBasic(basicCredentials('client', 'p@ss word%'))).toBe('client:p%40ss+word%25');
    expect(decodeBasic(basicCredentials('c', "it's(*)"))).toBe('c:it%27s%28%2A%29');
  });
});

describe('dynamic registration', () => {
  it('registers as a public client when the server offers none or lists nothing, else with a secret method it lists', () => {
    expect(registrationAuthMethod(undefined)).toBe('none');
    expect(registrationAuthMethod(['client_secret_basic', 'none'])).toBe('none');
    expect(registrationAuthMethod(['client_secret_post'])).toBe('client_secret_post');
    expect(registrationAuthMethod(['client_secret_basic', 'client_secret_post'])).toBe('client_secret_basic');
    expect(() => registrationAuthMethod(['private_key_jwt'])).toThrow(AuthRefusedError);
  });

  it('reads a 200 answer and a secret without client_secret_expires_at as a never-expiring registration', async () => {
    const res = new Response(JSON.stringify({ client_id: 'abc', client_secret: 's' }), { status: 200, headers: { 'content-type': 'application/json' } });
    const out = await normaliseRegistrationResponse(res);
    expect(out.status).toBe(201);
    expect(await out.json()).toEqual({ client_id: 'abc', client_secret: 's', client_secret_expires_at: 0 });
  });

  it('keeps an explicit expiry, and leaves errors and non-JSON answers for the strict checks', async () => {
    const ok = await normaliseRegistrationResponse(
      new Response(JSON.stringify({ client_id: 'a', client_secret: 's', client_secret_expires_at: 99 }), { status: 201, headers: { 'content-type': 'application/json' } }),
    );
    expect((await ok.json()).client_secret_expires_at).toBe(99);
    const err = new Response('{"error":"invalid_redirect_uri"}', { status: 400, headers: { 'content-type': 'application/json' } });
    expect(await normaliseRegistrationResponse(err)).toBe(err);
    const html = new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } });
    expect(await normaliseRegistrationResponse(html)).toBe(html);
  });
});

describe('protected resource covering the server URL', () => {
  const server = new URL('http://127.0.0.1:3000/mcp');
  it('accepts the same URL, the origin, and a path prefix at a segment boundary', () => {
    expect(resourceCovers('http://127.0.0.1:3000/mcp', server)).toBe(true);
    expect(resourceCovers('http://127.0.0.1:3000', server)).toBe(true);
    expect(resourceCovers('http://127.0.0.1:3000/', server)).toBe(true);
    expect(resourceCovers('https://gw.example/tenant', new URL('https://gw.example/tenant/mcp'))).toBe(true);
  });

  it('refuses another origin, a sibling path, a longer path and query or fragment', () => {
    expect(resourceCovers('http://127.0.0.1:3001/mcp', server)).toBe(false);
    expect(resourceCovers('https://127.0.0.1:3000/mcp', server)).toBe(false);
    expect(resourceCovers('http://127.0.0.1:3000/mc', server)).toBe(false);
    expect(resourceCovers('http://127.0.0.1:3000/mcp/other', server)).toBe(false);
    expect(resourceCovers('http://127.0.0.1:3000/?x=1', server)).toBe(false);
    expect(resourceCovers('not a url', server)).toBe(false);
  });
});

describe('offline_access (SEP-2207)', () => {
  it('adds offline_access only when the authorization server lists it', () => {
    expect(withOfflineAccess('mcp:tools', ['openid', 'offline_access'])).toBe('mcp:tools offline_access');
    expect(withOfflineAccess(undefined, ['offline_access'])).toBe('offline_access');
    expect(withOfflineAccess('mcp:tools', ['mcp:tools'])).toBe('mcp:tools');
    expect(withOfflineAccess('mcp:tools', undefined)).toBe('mcp:tools');
    expect(withOfflineAccess('offline_access a', ['offline_access'])).toBe('offline_access a');
  });

  it('asks an OpenID provider for consent with offline access (OIDC Core §11), keeping the user prompt', () => {
    expect(promptFor('openid offline_access', undefined, true)).toBe('consent');
    expect(promptFor('mcp:tools offline_access', undefined, true)).toBe('consent');
    expect(promptFor('openid offline_access', 'login', true)).toBe('login consent');
    expect(promptFor('openid offline_access', 'none', true)).toBe('none');
    expect(promptFor('mcp:tools offline_access', undefined, false)).toBeUndefined();
    expect(promptFor('openid mcp:tools', 'login', true)).toBe('login');
    expect(isOpenIdProvider({ scopes_supported: ['openid'] })).toBe(true);
    expect(isOpenIdProvider({ id_token_signing_alg_values_supported: ['RS256'] })).toBe(true);
    expect(isOpenIdProvider({ scopes_supported: ['mcp:basic', 'offline_access'] })).toBe(false);
  });
});

describe('unverified JWT claims (display only)', () => {
  it('reads a payload and refuses what is not a three-part JWT', () => {
    const jwt = `e30.${Buffer.from(JSON.stringify({ sub: 'alice' })).toString('base64url')}.sig`;
    expect(unverifiedJwtClaims(jwt)).toEqual({ sub: 'alice' });
    expect(unverifiedJwtClaims('opaque-token')).toBeUndefined();
    expect(unverifiedJwtClaims('a.!!!.c')).toBeUndefined();
    expect(unverifiedJwtClaims(undefined)).toBeUndefined();
  });
});

describe('conformance runner pieces', () => {
  it('lists client scenarios only', () => {
    const text = 'Server scenarios (test against a server):\n  - ping [x]\n\nClient scenarios (test against a client):\n  - initialize [2025-06-18]\n  - auth/dpop [extension]\n';
    expect(parseScenarioList(text)).toEqual(['initialize', 'auth/dpop']);
  });

  it('judges as the suite does: any FAILURE or WARNING, a timeout or a failed client fails', () => {
    expect(judge('s', 0, false, [{ id: 'a', status: 'SUCCESS' }, { id: 'b', status: 'INFO' }], '').passed).toBe(true);
    expect(judge('s', 0, false, [{ id: 'a', status: 'WARNING', description: 'meh' }], '').reason).toContain('WARNING a');
    expect(judge('s', 1, false, [{ id: 'a', status: 'SUCCESS' }], 'conformance client: boom').reason).toBe('boom');
    expect(judge('s', 0, true, [{ id: 'a', status: 'SUCCESS' }], '').passed).toBe(false);
    expect(judge('s', 0, false, [], '').passed).toBe(false);
  });

  it('turns handed-over credentials into the flags a user would type, secrets through the environment', () => {
    const files: Record<string, string> = {};
    const write = (n: string, t: string): string => ((files[n] = t), `/tmp/${n}`);
    const none = bridgeInvocation('http://x/mcp', undefined, write);
    expect(none.args).toContain(CONFORMANCE_CIMD_URL);
    const basic = bridgeInvocation('http://x/mcp', JSON.stringify({ name: 'auth/client-credentials-basic', client_id: 'c', client_secret: 's3' }), write);
    expect(basic.args).toEqual(expect.arrayContaining(['--grant', 'client-credentials', '--client-secret-env', 'CONFORMANCE_CLIENT_SECRET']));
    expect(basic.args.join(' ')).not.toContain('s3');
    expect(basic.env.CONFORMANCE_CLIENT_SECRET).toBe('s3');
    const wif = bridgeInvocation('http://x/mcp', JSON.stringify({ name: 'auth/wif-jwt-bearer', client_id: 'c', valid_jwt: 'j.w.t' }), write);
    expect(wif.args).toEqual(expect.arrayContaining(['--grant', 'jwt-bearer', '--assertion-file', '/tmp/assertion.jwt']));
    expect(files['assertion.jwt']).toBe('j.w.t');
  });
});

import { describe, expect, it } from 'vitest';
import { chooseResource, chooseScope } from '../../src/auth/authorizationCode.js';
import { chooseSecretAuthMethod } from '../../src/auth/clientRegistration.js';
import { authorizationServerMetadataCandidates, protectedResourceMetadataCandidates } from '../../src/auth/discovery.js';
import { checkEndpoint, isLoopbackHost } from '../../src/auth/endpointPolicy.js';
import { sanitizeServerText } from '../../src/auth/oauthErrors.js';
import { FLOW_OWNED_AUTHORIZE_PARAMS, validateAuthorizeParams } from '../../src/auth/options.js';
import { canonicalServerUrl, lockName, profileKey } from '../../src/auth/profile.js';
import { isExpiring, parseStoredSession, sessionFromTokenResponse, type SessionContext } from '../../src/auth/tokenSet.js';
import { parseBearerChallenge, parseWwwAuthenticate } from '../../src/auth/wwwAuthenticate.js';
import { AuthRefusedError, UnsafeServerError, UsageError } from '../../src/errors.js';

describe('parseWwwAuthenticate', () => {
  it('reads a Bearer challenge with quoted and token params', () => {
    const h = 'Bearer realm="mcp", error="invalid_token", error_description="The token expired", scope="files:read files:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"';
    expect(parseBearerChallenge(h)).toEqual({
      resourceMetadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      scope: 'files:read files:write',
      error: 'invalid_token',
      errorDescription: 'The token expired',
    });
  });

  it('unescapes quoted-pairs and keeps commas inside quotes', () => {
    const [c] = parseWwwAuthenticate('Bearer error_description="say \\"hi\\", then \\\\ leave", error=invalid_token');
    expect(c!.params.error_description).toBe('say "hi", then \\ leave');
    expect(c!.params.error).toBe('invalid_token');
  });

  it('splits several challenges and finds Bearer among them', () => {
    const h = 'Basic realm="x", DPoP algs="ES256", Bearer scope="a b", resource_metadata="https://r.example/prm"';
    const all = parseWwwAuthenticate(h);
    expect(all.map((c) => c.scheme)).toEqual(['basic', 'dpop', 'bearer']);
    // Bearer's parameters win; the DPoP challenge (RFC 9449 §7.1) still tells which proof algorithms the gateway takes.
    expect(parseBearerChallenge(h)).toEqual({ scope: 'a b', resourceMetadata: 'https://r.example/prm', dpopAlgs: ['ES256'] });
  });

  it('is case-insensitive for scheme and parameter names; first occurrence wins', () => {
    const [c] = parseWwwAuthenticate('BEARER Scope="one", SCOPE="two"');
    expect(c).toEqual({ scheme: 'bearer', params: { scope: 'one' } });
  });

  it('handles a bare scheme, token68 and empty list elements', () => {
    expect(parseWwwAuthenticate('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseWwwAuthenticate('Negotiate abc+/def==, , Bearer')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
      { scheme: 'bearer', params: {} },
    ]);
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge(null)).toBeUndefined();
  });

  it('never throws on malformed input', () => {
    for (const h of ['Bearer error="unterminated', '=x', 'Bearer ,,,=', '"quoted"', 'Bearer a=b c']) {
      expect(() => parseWwwAuthenticate(h)).not.toThrow();
    }
    expect(parseWwwAuthenticate('Bearer error="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});

describe('endpoint policy', () => {
  it('knows loopback hosts', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['localhost.evil.example', '128.0.0.1', '10.0.0.1', '[::2]', 'example.com', '0.0.0.0']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('accepts https anywhere and http on loopback only', () => {
    expect(checkEndpoint('https://as.example.com/token', 'token_endpoint').href).toBe('https://as.example.com/token');
    expect(checkEndpoint('http://127.0.0.1:8080/token', 'token_endpoint').port).toBe('8080');
    expect(checkEndpoint('http://[::1]:8080/token', 'token_endpoint').hostname).toBe('[::1]');
    expect(checkEndpoint('http://localhost/token', 'token_endpoint').hostname).toBe('localhost');
  });

  it('refuses non-loopback http unless allowHttp', () => {
    expect(() => checkEndpoint('http://as.example.com/token', 'token_endpoint')).toThrow(UnsafeServerError);
    expect(() => checkEndpoint('http://as.example.com/token', 'token_endpoint')).toThrow(/--allow-http/);
    expect(checkEndpoint('http://as.example.com/token', 'token_endpoint', { allowHttp: true }).protocol).toBe('http:');
  });

  it('refuses other schemes, credentials, fragments and garbage', () => {
    for (const bad of ['ftp://as.example.com/x', 'javascript:alert(1)', 'file:///etc/passwd', 'https://user:pw@as.example.com/', 'https://as.example.com/x#frag', 'https://as.example.com/x#', 'not a url']) {
      expect(() => checkEndpoint(bad, 'endpoint'), bad).toThrow(UnsafeServerError);
    }
  });
});

describe('canonical server URL and profile keys', () => {
  it('lower-cases scheme and host, drops the fragment, default port and trailing slash', () => {
    expect(canonicalServerUrl('HTTPS://MCP.Example.COM:443/MCP/#frag')).toBe('https://mcp.example.com/MCP');
    expect(canonicalServerUrl('https://mcp.example.com')).toBe('https://mcp.example.com/');
    expect(canonicalServerUrl('https://mcp.example.com/')).toBe('https://mcp.example.com/');
    expect(canonicalServerUrl('http://127.0.0.1:8080/a/b//')).toBe('http://127.0.0.1:8080/a/b');
    expect(canonicalServerUrl(new URL('https://mcp.example.com/mcp?tenant=1'))).toBe('https://mcp.example.com/mcp?tenant=1');
  });

  it('makes profile keys from the server and the user-chosen options only', () => {
    const a = profileKey({ server: 'https://MCP.example.com/mcp/' });
    expect(a).toBe('session:https://mcp.example.com/mcp');
    expect(profileKey({ server: 'https://mcp.example.com/mcp' })).toBe(a);
    expect(profileKey({ server: 'https://mcp.example.com/mcp', scope: 'b a' })).toBe(profileKey({ server: 'https://mcp.example.com/mcp', scope: 'a  b' }));
    expect(profileKey({ server: 'https://mcp.example.com/mcp', clientId: 'x' })).not.toBe(a);
    expect(profileKey({ server: 'https://mcp.example.com/mcp', resource: 'https://other.example/' })).not.toBe(a);
  });

  it('makes file-safe lock names', () => {
    expect(lockName('signin', 'session:https://x/y')).toMatch(/^signin-[0-9a-f]{32}$/);
  });
});

describe('discovery candidate order', () => {
  it('tries the WWW-Authenticate URL, then path-inserted, then root protected resource metadata', () => {
    expect(protectedResourceMetadataCandidates(new URL('https://gw.example/v1/mcp'), 'https://gw.example/prm')).toEqual([
      'https://gw.example/prm',
      'https://gw.example/.well-known/oauth-protected-resource/v1/mcp',
      'https://gw.example/.well-known/oauth-protected-resource',
    ]);
    expect(protectedResourceMetadataCandidates(new URL('https://gw.example/'))).toEqual(['https://gw.example/.well-known/oauth-protected-resource']);
  });

  it('follows the MCP spec order for issuers with and without a path', () => {
    expect(authorizationServerMetadataCandidates(new URL('https://auth.example.com/tenant1')).map(String)).toEqual([
      'https://auth.example.com/.well-known/oauth-authorization-server/tenant1',
      'https://auth.example.com/.well-known/openid-configuration/tenant1',
      'https://auth.example.com/tenant1/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataCandidates(new URL('https://auth.example.com')).map(String)).toEqual([
      'https://auth.example.com/.well-known/oauth-authorization-server',
      'https://auth.example.com/.well-known/openid-configuration',
    ]);
    expect(authorizationServerMetadataCandidates(new URL('https://auth.example.com/t/')).map(String)[0]).toBe(
      'https://auth.example.com/.well-known/oauth-authorization-server/t',
    );
  });
});

describe('scope and resource choice', () => {
  it('prefers --scope, then the challenge scope, then scopes_supported, else none', () => {
    expect(chooseScope({ optionScope: 'mine', challengeScope: 'challenge', scopesSupported: ['a', 'b'] })).toBe('mine');
    expect(chooseScope({ challengeScope: 'challenge', scopesSupported: ['a', 'b'] })).toBe('challenge');
    expect(chooseScope({ challengeScope: '  ', scopesSupported: ['a', 'b'] })).toBe('a b');
    expect(chooseScope({ scopesSupported: [] })).toBeUndefined();
    expect(chooseScope({})).toBeUndefined();
  });

  it('sends the canonical server URL as resource, or --resource, or nothing with --no-resource', () => {
    const serverUrl = new URL('https://GW.example/mcp/');
    expect(chooseResource({ serverUrl })).toBe('https://gw.example/mcp');
    expect(chooseResource({ serverUrl, resource: 'https://api.example/' })).toBe('https://api.example/');
    expect(chooseResource({ serverUrl, noResource: true })).toBeUndefined();
  });
});

describe('validateAuthorizeParams', () => {
  it('passes harmless extras through', () => {
    expect(validateAuthorizeParams({ prompt: 'consent', login_hint: 'alice@example.com' })).toEqual({ prompt: 'consent', login_hint: 'alice@example.com' });
    expect(validateAuthorizeParams(undefined)).toEqual({});
  });

  it('refuses every parameter the flow owns, in any case', () => {
    for (const name of FLOW_OWNED_AUTHORIZE_PARAMS) {
      expect(() => validateAuthorizeParams({ [name]: 'x' }), name).toThrow(UsageError);
      expect(() => validateAuthorizeParams({ [name.toUpperCase()]: 'x' }), name).toThrow(UsageError);
    }
    expect(() => validateAuthorizeParams({ 'bad name': 'x' })).toThrow(UsageError);
  });
});

describe('client authentication choice', () => {
  it('prefers client_secret_basic, then client_secret_post', () => {
    expect(chooseSecretAuthMethod(undefined)).toBe('client_secret_basic');
    expect(chooseSecretAuthMethod(['client_secret_post', 'client_secret_basic'])).toBe('client_secret_basic');
    expect(chooseSecretAuthMethod(['none', 'client_secret_post'])).toBe('client_secret_post');
    expect(() => chooseSecretAuthMethod(['private_key_jwt'])).toThrow(AuthRefusedError);
  });
});

describe('stored sessions', () => {
  const ctx: SessionContext = {
    server: 'https://gw.example/mcp',
    resource: 'https://gw.example/mcp',
    issuer: 'https://as.example',
    clientId: 'c1',
    clientSource: 'dynamic',
    tokenEndpoint: 'https://as.example/token',
  };
  const response = (over: Record<string, unknown> = {}) => ({
    access_token: 'at-1',
    token_type: 'bearer',
    expires_in: 3600,
    refresh_token: 'rt-1',
    scope: 'mcp:tools',
    claims: () => undefined,
    ...over,
  });

  it('stores an absolute expiry and keeps what a refresh answer omits', () => {
    const first = sessionFromTokenResponse(response(), ctx, 1_000);
    expect(first).toMatchObject({ version: 1, accessToken: 'at-1', refreshToken: 'rt-1', tokenType: 'Bearer', expiresAt: 3_601_000, obtainedAt: 1_000 });
    const second = sessionFromTokenResponse(response({ access_token: 'at-2', refresh_token: undefined, scope: undefined, expires_in: 60 }), ctx, 5_000, first);
    expect(second).toMatchObject({ accessToken: 'at-2', refreshToken: 'rt-1', scope: 'mcp:tools', expiresAt: 65_000 });
    expect(parseStoredSession(JSON.parse(JSON.stringify(second)))).toEqual(second);
  });

  it('refuses non-bearer tokens and reads junk as no session', () => {
    expect(() => sessionFromTokenResponse(response({ token_type: 'dpop' }), ctx, 0)).toThrow(AuthRefusedError);
    expect(parseStoredSession({ version: 2 })).toBeUndefined();
    expect(parseStoredSession('x')).toBeUndefined();
    expect(parseStoredSession({ ...sessionFromTokenResponse(response(), ctx, 0), clientSource: 'other' })).toBeUndefined();
  });

  it('treats a token within the skew as expiring, and an unknown expiry as valid', () => {
    const s = sessionFromTokenResponse(response({ expires_in: 100 }), ctx, 0);
    expect(isExpiring(s, 39_000, 60_000)).toBe(false);
    expect(isExpiring(s, 40_000, 60_000)).toBe(true);
    expect(isExpiring(sessionFromTokenResponse(response({ expires_in: undefined }), ctx, 0), 1e15, 60_000)).toBe(false);
  });
});

describe('sanitizeServerText', () => {
  it('strips terminal escapes and caps length', () => {
    expect(sanitizeServerText('bad\u001b[31mred\u0007')).toBe('bad [31mred ');
    expect(sanitizeServerText('x'.repeat(400)).length).toBe(301);
  });
});

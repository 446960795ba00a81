/**
 * The lab with OAuth (oidc-provider and the JWT-validating gateway), and the lab's lifecycle and
 * variants. The lab gateway without auth, with a static token and legacy-only: lab.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { startLab, type Lab } from '../../scripts/lab/lab.js';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { connect, initializeBody, post, startCallbackServer, textOf } from './labClients.js';

describe('lab with OAuth (oidc-provider + JWT-validating gateway)', () => {
  let lab: Lab;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;

  beforeAll(async () => {
    lab = await startLab({ auth: 'oauth' });
    callback = await startCallbackServer();
  });
  afterAll(async () => {
    await lab.close();
    await callback.close();
  });

  async function register(): Promise<oidc.Configuration> {
    // Registered without a port; RFC 8252 §7.3 lets the loopback redirect use any port.
    return oidc.dynamicClientRegistration(
      new URL(lab.idp!.issuer),
      {
        client_name: 'lab test',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  async function authorizationUrl(config: oidc.Configuration): Promise<{ url: URL; verifier: string; state: string }> {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callback.port}/callback`,
      // The lab runs oidc-provider's stock policy: a refresh token only for offline_access, which it
      // grants only with prompt=consent (OIDC Core §11).
      scope: 'openid mcp:tools offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource: lab.gateway.url,
    });
    return { url, verifier, state };
  }

  it('serves protected resource metadata and challenges with resource_metadata', async () => {
    const origin = new URL(lab.gateway.url).origin;
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: lab.gateway.url,
        authorization_servers: [lab.idp!.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'keybridge lab gateway',
      });
    }
    const refused = await post(lab.gateway.url, initializeBody());
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
    const bad = await post(lab.gateway.url, initializeBody(), { authorization: 'Bearer not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", /);
  });

  it('signs in with authorization code + PKCE, calls the gateway, refreshes with rotation', async () => {
    const config = await register();
    const { url, verifier, state } = await authorizationUrl(config);
    const login = await completeLogin(url.href, { username: 'alice', password: 'wonderland' });
    expect(login.callbackStatus).toBe(200);
    expect(login.callbackBody).toContain('signed in');
    expect(callback.seen.at(-1)).toContain(`state=${state}`);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(login.callbackUrl), { pkceCodeVerifier: verifier, expectedState: state }, { resource: lab.gateway.url });
    const claims = decodeJwt(tokens.access_token);
    expect(claims.aud).toBe(lab.gateway.url);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.sub).toBe('alice');
    expect(tokens.refresh_token).toBeTruthy();
    const codeRequest = lab.idp!.record.tokenRequests.find((r) => r.grant_type === 'authorization_code');
    expect(codeRequest?.resource).toBe(lab.gateway.url);
    expect(codeRequest?.code_verifier).toBe(verifier);
    expect(lab.idp!.record.authorizationRequests.at(-1)?.code_challenge_method).toBe('S256');
    expect(lab.idp!.record.registrations).toHaveLength(1);
    expect(await lab.idp!.introspect(tokens.access_token)).toMatchObject({ active: true, sub: 'alice' });
    expect((await lab.idp!.introspect(tokens.refresh_token!)).active).toBe(true);

    const client = await connect(lab.gateway.url, { Authorization: `Bearer ${tokens.access_token}` });
    const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ sub: 'alice', aud: lab.gateway.url, token_kind: 'access' });
    expect(who.scope.split(' ')).toContain('mcp:tools');
    await client.close();
    expect(lab.gateway.record.toolCalls.at(-1)).toMatchObject({ name: 'whoami', subject: 'alice' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: lab.gateway.url });
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(refreshed.access_token).aud).toBe(lab.gateway.url);
    const again = await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${refreshed.access_token}` });
    expect(again.status).toBe(200);
    await again.body?.cancel();

    // Presenting the rotated-out refresh token again is reuse: refused, and the grant is revoked.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: lab.gateway.url })).rejects.toThrow();
    expect(lab.idp!.record.refreshReuse).toBe(1);
    expect((await lab.idp!.introspect(refreshed.refresh_token!)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!, { resource: lab.gateway.url })).rejects.toThrow();
  });

  it('steps up on tool scopes and tells ID tokens from access tokens', async () => {
    const config = await register();
    const { url, verifier, state } = await authorizationUrl(config);
    const login = await completeLogin(url.href);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(login.callbackUrl), { pkceCodeVerifier: verifier, expectedState: state }, { resource: lab.gateway.url });
    const base = { mode: 'jwt' as const, issuer: lab.idp!.issuer, jwksUri: lab.idp!.jwksUri, audience: lab.gateway.url, scopesSupported: ['mcp:tools'] };
    const origin = new URL(lab.gateway.url).origin;
    try {
      lab.gateway.setAuth({ ...base, toolScopes: { destructive_delete: 'mcp:admin' } });
      const call = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'destructive_delete', arguments: {} } });
      const forbidden = await post(lab.gateway.url, call, { authorization: `Bearer ${tokens.access_token}` });
      expect(forbidden.status).toBe(403);
      const challenge = forbidden.headers.get('www-authenticate')!;
      expect(challenge).toMatch(/^Bearer error="insufficient_scope", scope="[^"]*mcp:admin[^"]*"/);
      expect(challenge).toContain(`resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`);

      lab.gateway.setAuth(base);
      expect((await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.id_token}` })).status).toBe(401);

      lab.gateway.setAuth({ ...base, acceptIdToken: true });
      const withId = await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.id_token}` });
      expect(withId.status).toBe(200);
      await withId.body?.cancel();
      expect((await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.access_token}` })).status).toBe(401);
    } finally {
      lab.gateway.setAuth(base);
    }
  });

  it('reports access_denied when the user cancels, and rejects a wrong password', async () => {
    const config = await register();
    const denied = await completeLogin((await authorizationUrl(config)).url.href, { deny: true });
    expect(new URL(denied.callbackUrl).searchParams.get('error')).toBe('access_denied');
    await expect(completeLogin((await authorizationUrl(config)).url.href, { password: 'wrong' })).rejects.toThrow(/rejected/);
  });
});

describe('lab lifecycle and variants', () => {
  it('closes promptly with a client, its GET stream and a call still open', async () => {
    const lab = await startLab({ auth: 'none' });
    const client = await connect(lab.gateway.url);
    const call = client.callTool({ name: 'slow', arguments: { ms: 60_000 } });
    await expect.poll(() => lab.gateway.record.toolCalls.length, { timeout: 3000 }).toBe(1);
    await lab.close();
    // The SDK client only notices through its reconnect attempts or timeout; closing it fails the call.
    await client.close();
    await expect(call).rejects.toThrow();
    await expect(fetch(lab.gateway.url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('serves an issuer with a path, and client credentials for the service client', async () => {
    const lab = await startLab({ auth: 'oauth', idp: { issuerPath: '/tenant-a' } });
    const callback = await startCallbackServer();
    try {
      const idp = lab.idp!;
      expect(idp.issuer).toMatch(/\/tenant-a$/);
      const rfc8414 = await fetch(`${new URL(idp.issuer).origin}/.well-known/oauth-authorization-server/tenant-a`, { signal: AbortSignal.timeout(5000) });
      expect((await rfc8414.json()).issuer).toBe(idp.issuer);

      const service = await oidc.discovery(new URL(idp.issuer), idp.serviceClient.clientId, undefined, oidc.ClientSecretBasic(idp.serviceClient.clientSecret), {
        execute: [oidc.allowInsecureRequests],
      });
      const cc = await oidc.clientCredentialsGrant(service, { resource: lab.gateway.url, scope: 'mcp:tools' });
      expect(decodeJwt(cc.access_token)).toMatchObject({ aud: lab.gateway.url, sub: idp.serviceClient.clientId, scope: 'mcp:tools' });

      const config = await oidc.dynamicClientRegistration(
        new URL(idp.issuer),
        { application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] },
        oidc.None(),
        { execute: [oidc.allowInsecureRequests] },
      );
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${callback.port}/cb`,
        scope: 'mcp:tools',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource: lab.gateway.url,
      });
      const login = await completeLogin(url.href);
      expect(new URL(login.callbackUrl).searchParams.get('iss')).toBe(idp.issuer);
      expect(callback.seen).toHaveLength(1);
      expect(idp.record.authorizationRequests).toHaveLength(1);
    } finally {
      await callback.close();
      await lab.close();
    }
  });

  const browserScript = join(process.cwd(), 'dist/scripts/lab/scriptedBrowser.js');
  it.skipIf(!existsSync(browserScript))('scriptedBrowser logs the launch and completes the login', async () => {
    const lab = await startLab({ auth: 'oauth' });
    const callback = await startCallbackServer();
    const { port, seen } = callback;
    try {
      const config = await oidc.dynamicClientRegistration(
        new URL(lab.idp!.issuer),
        { application_type: 'native', redirect_uris: [`http://127.0.0.1:${port}/cb`], token_endpoint_auth_method: 'none' },
        oidc.None(),
        { execute: [oidc.allowInsecureRequests] },
      );
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${port}/cb`,
        scope: 'mcp:tools',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const log = join(mkdtempSync(join(tmpdir(), 'lab-browser-')), 'launches.jsonl');
      await promisify(execFile)(process.execPath, [browserScript, url.href], {
        env: { ...process.env, LAB_BROWSER_LOG: log, LAB_USER: 'alice', LAB_PASSWORD: 'wonderland' },
        timeout: 15_000,
      });
      expect(JSON.parse(readFileSync(log, 'utf8').trim())).toMatchObject({ url: url.href });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/^\/cb\?code=[^&]+&state=st&iss=/);
    } finally {
      await callback.close();
      await lab.close();
    }
  });
});

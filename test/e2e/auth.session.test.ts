/**
 * A signed-in session at the library level against the lab: metadata it refuses, one refresh shared
 * by concurrent callers, revocation, a pre-registered client with a secret. Sign-in itself:
 * auth.signin.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createAuthSession } from '../../src/auth/authSession.js';
import { revokeSessionTokens } from '../../src/auth/revoke.js';
import type { StoredSession } from '../../src/auth/tokenSet.js';
import { KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { authOptions as options, initializeResponse as initialize, requestWithAuth, signinDeps as makeDeps, useAuthLab } from './harness/authLab.js';

const { cleanups, lab, tempLockDir } = useAuthLab();

async function badMetadataServer(kind: 'issuer' | 'resource'): Promise<{ url: string; close(): Promise<void> }> {
  let origin = '';
  const server: Server = createServer((req, res) => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      return json(200, { resource: kind === 'resource' ? 'http://127.0.0.1:1/elsewhere' : `${origin}/mcp`, authorization_servers: [origin] });
    }
    if (req.url === '/.well-known/oauth-authorization-server') {
      return json(200, {
        issuer: 'http://127.0.0.1:2/impostor',
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        code_challenge_methods_supported: ['S256'],
      });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = (): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  cleanups.push(close);
  return { url: `${origin}/mcp`, close };
}

describe('sign-in refuses bad metadata', () => {
  it('refuses protected resource metadata for another resource', async () => {
    const bad = await badMetadataServer('resource');
    const t = makeDeps();
    const session = createAuthSession({ options: options(bad.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err = await session.signIn().catch((e: unknown) => e);
    expect((err as KeybridgeError).code).toBe('resource_mismatch');
    expect(t.opened).toHaveLength(0);
  });

  it('refuses authorization server metadata whose issuer is not the one looked up', async () => {
    const bad = await badMetadataServer('issuer');
    const t = makeDeps();
    const session = createAuthSession({ options: options(bad.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err = await session.signIn().catch((e: unknown) => e);
    expect((err as KeybridgeError).code).toBe('issuer_mismatch');
    expect(t.opened).toHaveLength(0);
  });
});

describe('refresh single-flight', () => {
  it('shares one refresh between concurrent callers and between sessions on one store', async () => {
    const l = await lab({ accessTokenTtl: 120 });
    const store = new MemoryStore();
    const lockDir = await tempLockDir();
    const a = makeDeps();
    const b = makeDeps();
    const first = createAuthSession({ options: options(l.gateway.url), deps: a.deps, store, lockDir });
    const sibling = createAuthSession({ options: options(l.gateway.url), deps: b.deps, store, lockDir });
    await first.signIn();
    expect(await sibling.authorizationHeader()).toBe(await first.authorizationHeader());
    const refreshesBefore = l.idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;

    a.advance(90_000);
    b.advance(90_000);
    const headers = await Promise.all([first.authorizationHeader(), first.authorizationHeader(), sibling.authorizationHeader(), sibling.authorizationHeader()]);
    const refreshes = l.idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length - refreshesBefore;
    expect(refreshes).toBe(1);
    expect(new Set(headers).size).toBe(1);
    expect(l.idp.record.refreshReuse).toBe(0);
    expect((await initialize(l.gateway.url, headers[0])).status).toBe(200);
  });

  it('drops a session whose refresh token is refused (invalid_grant) and signs in again on the 401', async () => {
    const l = await lab();
    const store = new MemoryStore();
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store, lockDir: await tempLockDir() });
    await session.signIn();
    const stored = (await store.get<StoredSession>(session.key))!;
    await store.set(session.key, { ...stored, refreshToken: 'revoked-refresh-token', expiresAt: 0 });

    const fresh = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store, lockDir: await tempLockDir() });
    expect(await fresh.authorizationHeader()).toBeUndefined(); // refused for good: send nothing
    expect(await store.get(session.key)).toBeUndefined();
    expect(await requestWithAuth(fresh, l.gateway.url)).toBe(200);
    expect(t.opened).toHaveLength(2);
    expect(t.logText()).not.toContain('revoked-refresh-token');
  });
});

describe('revocation', () => {
  it('revokes the refresh token (and tries the access token) at the authorization server', async () => {
    const l = await lab();
    const store = new MemoryStore();
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store, lockDir: await tempLockDir() });
    const stored = await session.signIn();
    const result = await revokeSessionTokens({ session: stored, deps: t.deps, store });
    // oidc-provider refuses to revoke structured (JWT) access tokens: unsupported_token_type is not a failure.
    expect(result.map((r) => [r.token, r.outcome])).toEqual([
      ['refresh_token', 'revoked'],
      ['access_token', 'unsupported'],
    ]);
    expect(l.idp.record.revocations.map((r) => r.token_type_hint)).toEqual(['refresh_token', 'access_token']);
    expect((await l.idp.introspect(stored.refreshToken!)).active).toBe(false);
  });
});

describe('pre-registered client', () => {
  it('uses --client-id with a secret via client_secret_basic, for the code exchange and the refresh', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const secret = 'pre-registered-secret-value';
    const l = await lab({
      idp: {
        staticClients: [
          {
            client_id: 'kb-static',
            client_secret: secret,
            application_type: 'native',
            redirect_uris: [`http://127.0.0.1:${port}/callback`],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ],
      },
    });
    const t = makeDeps();
    const session = createAuthSession({
      // A confidential client gets a refresh token for offline_access, which oidc-provider grants with prompt=consent.
      options: options(l.gateway.url, {
        clientId: 'kb-static',
        clientSecret: secret,
        callbackPort: port,
        scope: 'openid offline_access mcp:tools',
        authorizeParams: { prompt: 'consent' },
      }),
      deps: t.deps,
      store: new MemoryStore(),
      lockDir: await tempLockDir(),
    });
    const stored = await session.signIn();
    expect(stored).toMatchObject({ clientId: 'kb-static', clientSource: 'pre-registered', tokenEndpointAuthMethod: 'client_secret_basic' });
    expect(stored.refreshToken).toBeTruthy();
    expect(l.idp.record.registrations).toHaveLength(0);
    expect(l.idp.record.tokenRequests.at(-1)!.client_secret).toBeUndefined(); // sent in the Authorization header
    await session.handleChallenge({ status: 401, wwwAuthenticate: null }, 1); // refresh with the secret
    expect(l.idp.record.tokenRequests.at(-1)!.grant_type).toBe('refresh_token');
    expect(t.opened).toHaveLength(1);
    expect((await initialize(l.gateway.url, await session.authorizationHeader())).status).toBe(200);
    expect(t.logText()).not.toContain(secret);
  });
});

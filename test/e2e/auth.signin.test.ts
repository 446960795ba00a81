import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../scripts/lab/lab.js';
import { completeLogin, type CompleteLoginOptions } from '../../scripts/lab/scriptedLogin.js';
import { createAuthSession, type AuthSession } from '../../src/auth/authSession.js';
import type { AuthOptions } from '../../src/auth/options.js';
import { registrationKey } from '../../src/auth/profile.js';
import { revokeSessionTokens } from '../../src/auth/revoke.js';
import type { StoredSession } from '../../src/auth/tokenSet.js';
import { AuthRefusedError, AuthRequiredError, KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { makeDeps as makeHarnessDeps, type Browser, type TestDeps } from './harness/authDeps.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function lab(opts: Parameters<typeof startLab>[0] = {}): Promise<Required<Pick<Lab, 'idp'>> & Lab> {
  const l = await startLab({ auth: 'oauth', ...opts });
  cleanups.push(() => l.close());
  if (!l.idp) throw new Error('lab without idp');
  return l as Required<Pick<Lab, 'idp'>> & Lab;
}

async function tempLockDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-auth-locks-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A user who completes the lab login whenever the flow opens a browser. */
const scriptedUser =
  (opts: CompleteLoginOptions = {}): Browser =>
  async (url) => {
    await completeLogin(url, opts);
  };

/** Test deps whose browser is, by default, the scripted user. */
const makeDeps = (browser: Browser = scriptedUser()): TestDeps => makeHarnessDeps(browser);

function options(serverUrl: string, extra: Partial<AuthOptions> = {}): AuthOptions {
  return { serverUrl: new URL(serverUrl), authTimeoutMs: 20_000, interactive: true, ...extra };
}

/** One MCP initialize against the gateway: its status and WWW-Authenticate. */
async function initialize(url: string, authorization?: string): Promise<{ status: number; wwwAuthenticate: string | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'auth-e2e', version: '1' } } }),
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** Make a request, and on 401 let the session handle it and replay once, as the remote transport does. */
async function requestWithAuth(session: AuthSession, url: string): Promise<number> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await initialize(url, await session.authorizationHeader());
    if (r.status !== 401 && r.status !== 403) return r.status;
    await session.handleChallenge({ status: r.status, wwwAuthenticate: r.wwwAuthenticate }, attempt);
  }
  throw new Error('unreachable: the session should have thrown');
}

function assertNoSecrets(logText: string, session: StoredSession | undefined): void {
  expect(session).toBeDefined();
  for (const secret of [session!.accessToken, session!.refreshToken, session!.idToken]) {
    if (secret) expect(logText).not.toContain(secret);
  }
}

describe('sign-in against the lab (oidc-provider + SDK gateway)', () => {
  it('signs in on a 401, with PKCE S256, resource on both requests, and a token whose audience is the gateway', async () => {
    const l = await lab();
    const t = makeDeps();
    const store = new MemoryStore();
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store, lockDir: await tempLockDir() });

    expect(await session.authorizationHeader()).toBeUndefined();
    expect(await requestWithAuth(session, l.gateway.url)).toBe(200);

    const stored = await session.currentSession();
    expect(stored?.clientSource).toBe('dynamic');
    expect(stored?.issuer).toBe(l.idp.issuer);
    expect(stored?.resource).toBe(l.gateway.url);
    expect(stored?.refreshToken).toBeTruthy();
    expect(typeof stored?.expiresAt).toBe('number');
    expect(await store.get(session.key)).toEqual(stored);

    const introspection = await l.idp.introspect(stored!.accessToken);
    expect(introspection.active).toBe(true);
    expect([introspection.aud].flat()).toContain(l.gateway.url);

    const auth = l.idp.record.authorizationRequests.at(-1)!;
    expect(auth.code_challenge_method).toBe('S256');
    expect(auth.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.resource).toBe(l.gateway.url);
    expect(auth.state).toBeTruthy();
    // No --scope: the 401 challenge's scope wins over scopes_supported; offline_access is added
    // because the authorization server lists it (SEP-2207), with the consent OIDC Core §11 asks for.
    expect(auth.scope).toBe('mcp:tools offline_access');
    expect(auth.prompt).toBe('consent');
    const token = l.idp.record.tokenRequests.at(-1)!;
    expect(token.grant_type).toBe('authorization_code');
    expect(token.code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(token.resource).toBe(l.gateway.url);
    expect(l.idp.record.registrations).toHaveLength(1);
    assertNoSecrets(t.logText(), stored);
  });

  it('chooses the scope: --scope first, else the challenge, else scopes_supported', async () => {
    const l = await lab();
    const lockDir = await tempLockDir();

    const withOption = createAuthSession({ options: options(l.gateway.url, { scope: 'openid email mcp:tools' }), deps: makeDeps().deps, store: new MemoryStore(), lockDir });
    await requestWithAuth(withOption, l.gateway.url);
    expect(l.idp.record.authorizationRequests.at(-1)!.scope).toBe('openid email mcp:tools offline_access');
    // openid was asked for: the ID token's claims name the user.
    const withId = await withOption.currentSession();
    expect(withId?.subject).toBe('alice');
    expect(withId?.idToken).toBeTruthy();

    const challenge = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store: new MemoryStore(), lockDir });
    await challenge.handleChallenge({ status: 401, wwwAuthenticate: 'Bearer scope="mcp:admin"' }, 1);
    expect(l.idp.record.authorizationRequests.at(-1)!.scope).toBe('mcp:admin offline_access');

    // No challenge at all (login command): the resource metadata's scopes_supported.
    const fromMetadata = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store: new MemoryStore(), lockDir });
    await fromMetadata.signIn();
    expect(l.idp.record.authorizationRequests.at(-1)!.scope).toBe('mcp:tools offline_access');
  });

  it('refreshes an expiring token (with resource) and the gateway accepts the new one', async () => {
    const l = await lab({ accessTokenTtl: 120 });
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    await session.signIn();
    const first = (await session.currentSession())!;
    const authorizations = l.idp.record.authorizationRequests.length;

    t.advance(90_000); // within the 60 s skew of expiry
    const header = await session.authorizationHeader();
    const second = (await session.currentSession())!;
    expect(header).toBe(`Bearer ${second.accessToken}`);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken); // the lab rotates refresh tokens
    const refresh = l.idp.record.tokenRequests.at(-1)!;
    expect(refresh.grant_type).toBe('refresh_token');
    expect(refresh.resource).toBe(l.gateway.url);
    expect(l.idp.record.authorizationRequests.length).toBe(authorizations);
    expect((await initialize(l.gateway.url, header)).status).toBe(200);
    assertNoSecrets(t.logText(), second);
  });

  it('refreshes on a 401 for a token the gateway no longer accepts', async () => {
    const l = await lab();
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    await session.signIn();
    const before = (await session.currentSession())!;
    await session.handleChallenge({ status: 401, wwwAuthenticate: 'Bearer error="invalid_token"' }, 1);
    const after = (await session.currentSession())!;
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(l.idp.record.tokenRequests.at(-1)!.grant_type).toBe('refresh_token');
    expect(t.opened).toHaveLength(1);
  });

  it('ignores a callback with a wrong state and completes with the right one', async () => {
    const l = await lab();
    const statuses: number[] = [];
    const t = makeDeps(async (url) => {
      const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
      for (const query of ['?code=forged&state=wrong', '?code=forged', '?error=access_denied&state=nope']) {
        const res = await fetch(`${redirect.href}${query}`, { signal: AbortSignal.timeout(5_000) });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      const result = await completeLogin(url);
      issOnCallback = new URL(result.callbackUrl).searchParams.get('iss') ?? undefined;
    });
    let issOnCallback: string | undefined;
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    await session.signIn();
    expect(statuses).toEqual([400, 400, 400]);
    // The lab advertises RFC 9207 support, so the accepted callback carried (and passed) iss.
    expect(issOnCallback).toBe(l.idp.issuer);
    expect((await initialize(l.gateway.url, await session.authorizationHeader())).status).toBe(200);
  });

  it('ends the flow with the error the authorization server sent (user pressed Cancel)', async () => {
    const l = await lab();
    const t = makeDeps(scriptedUser({ deny: true }));
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err = await session.signIn().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect((err as KeybridgeError).code).toBe('oauth_access_denied');
  });

  it('re-registers once when the stored registration is unknown to the authorization server (invalid_client)', async () => {
    const l = await lab();
    const store = new MemoryStore();
    const lockDir = await tempLockDir();
    const first = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store, lockDir });
    await first.signIn();
    expect(l.idp.record.registrations).toHaveLength(1);

    const key = registrationKey({ issuer: l.idp.issuer, callbackHost: '127.0.0.1' });
    const reg = (await store.get<Record<string, unknown>>(key))!;
    expect(reg.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    await store.set(key, { ...reg, clientId: 'forgotten-by-the-idp' });

    const t = makeDeps();
    const second = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store, lockDir });
    await second.signIn({ force: true });
    expect(l.idp.record.registrations).toHaveLength(2);
    const now = (await store.get<Record<string, unknown>>(key))!;
    expect(now.clientId).not.toBe('forgotten-by-the-idp');
    expect((await second.currentSession())!.clientId).toBe(now.clientId);
    expect(t.logText()).toContain('registering again');

    // A third sign-in reuses the (valid) stored registration: no new one.
    const third = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store, lockDir });
    await third.signIn({ force: true });
    expect(l.idp.record.registrations).toHaveLength(2);
  });

  it('adopts a session a sibling stored instead of signing in again', async () => {
    const l = await lab();
    const store = new MemoryStore();
    const lockDir = await tempLockDir();
    const a = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store, lockDir });
    const bDeps = makeDeps();
    const b = createAuthSession({ options: options(l.gateway.url), deps: bDeps.deps, store, lockDir });
    expect(await b.authorizationHeader()).toBeUndefined(); // b loaded "no session"
    await a.signIn();
    await b.handleChallenge({ status: 401, wwwAuthenticate: null }, 1);
    expect(bDeps.opened).toHaveLength(0);
    expect((await b.currentSession())?.accessToken).toBe((await a.currentSession())?.accessToken);
  });

  it('never opens a browser when not interactive, and breaks the loop when a fresh token is refused', async () => {
    const l = await lab();
    const t = makeDeps();
    const quiet = createAuthSession({ options: options(l.gateway.url, { interactive: false }), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err = await quiet.handleChallenge({ status: 401, wwwAuthenticate: null }, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthRequiredError);
    expect((err as Error).message).toContain('mcp-keybridge login');
    expect(t.opened).toHaveLength(0);

    const session = createAuthSession({ options: options(l.gateway.url), deps: makeDeps().deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    await session.handleChallenge({ status: 401, wwwAuthenticate: null }, 1); // signs in
    const refused = await session.handleChallenge({ status: 401, wwwAuthenticate: 'Bearer error="invalid_token"' }, 2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthRefusedError);
    expect((refused as Error).message).toContain('still refuses the new token');
  });

  it('finds the authorization server of a path issuer in the spec order (RFC 8414 path insertion first)', async () => {
    const l = await lab({ idp: { issuerPath: '/tenant-a' } });
    const seen: string[] = [];
    const t = makeDeps();
    const inner = t.deps.fetch;
    t.deps.fetch = async (input, init) => {
      seen.push(String(input));
      return inner(input, init);
    };
    const session = createAuthSession({ options: options(l.gateway.url), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    await session.signIn();
    const origin = new URL(l.idp.issuer).origin;
    expect(seen).toContain(`${origin}/.well-known/oauth-authorization-server/tenant-a`);
    expect((await session.currentSession())?.issuer).toBe(`${origin}/tenant-a`);
  });
});

/** A tiny server publishing deliberately wrong metadata. */
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

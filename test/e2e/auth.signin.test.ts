/**
 * Sign-in at the library level against the lab (oidc-provider + SDK gateway): the code flow with
 * PKCE and resource indicators, scope choice, refresh, state checks, re-registration, siblings,
 * path issuers. Bad metadata, refresh single-flight, revocation and pre-registered clients:
 * auth.session.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { createAuthSession } from '../../src/auth/authSession.js';
import { registrationKey } from '../../src/auth/profile.js';
import { AuthRefusedError, AuthRequiredError, KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { assertNoSecrets, authOptions as options, initializeResponse as initialize, requestWithAuth, scriptedUser, signinDeps as makeDeps, useAuthLab } from './harness/authLab.js';

const { lab, tempLockDir } = useAuthLab();

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

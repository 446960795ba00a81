/**
 * The other ways in, at the library level against the lab (oidc-provider + SDK gateway):
 * --use-id-token, the device authorization grant, client credentials, a Cognito-like
 * authorization server. (private_key_jwt and enterprise-managed authorization: auth.assertions.)
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/auth.grants.test.ts
 */
import { describe, expect, it } from 'vitest';
import { createAuthSession } from '../../src/auth/authSession.js';
import type { AuthOptions } from '../../src/auth/options.js';
import type { KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { makeDeps } from './harness/authDeps.js';
import { jwtClaims } from './harness/signinWorkspace.js';
import { authOptions as options, freePort, initializeStatus as initialize, oauthLab, requestWithAuth, scriptedUser, useAuthLab, type OAuthLab } from './harness/authLab.js';

const { lab, tempLockDir, user } = useAuthLab();

describe('--use-id-token', () => {
  it('sends the ID token as the bearer, requests openid, and renews by the ID token exp', async () => {
    const l = await lab({ jwt: { acceptIdToken: true }, accessTokenTtl: 3000, idp: { idTokenTtl: 600 } });
    const t = makeDeps(user);
    const session = createAuthSession({ options: options(l.gateway.url, { useIdToken: true }), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    expect(await requestWithAuth(session, l.gateway.url)).toBe(200);
    const stored = (await session.currentSession())!;
    expect(stored.bearer).toBe('id_token');
    expect(session.key).toContain('bearer=id_token');
    expect(l.idp.record.authorizationRequests[0]!.scope!.split(' ')).toEqual(expect.arrayContaining(['openid', 'mcp:tools']));
    // Renewal follows the ID token (600 s), not the access token (3000 s).
    expect(stored.expiresAt).toBe((jwtClaims(stored.idToken!).exp as number) * 1000);
    expect(await session.authorizationHeader()).toBe(`Bearer ${stored.idToken}`);
    // The gateway in this mode refuses access tokens.
    expect(await initialize(l.gateway.url, `Bearer ${stored.accessToken}`)).toBe(401);

    t.advance(590_000); // inside the skew of the ID token's expiry; the access token is far from it
    const header = await session.authorizationHeader();
    const renewed = (await session.currentSession())!;
    expect(l.idp.record.tokenRequests.at(-1)!.grant_type).toBe('refresh_token');
    // A fresh ID token came with the refresh (it may be byte-identical: same claims, same second, deterministic RS256).
    expect(l.idp.record.tokenResponses.at(-1)!.id_token).toBe(renewed.idToken);
    expect(renewed.obtainedAt).toBeGreaterThan(stored.obtainedAt);
    expect(header).toBe(`Bearer ${renewed.idToken}`);
    expect(renewed.expiresAt).toBe((jwtClaims(renewed.idToken!).exp as number) * 1000);
    expect(await initialize(l.gateway.url, header)).toBe(200);
    expect(t.opened).toHaveLength(1);
    expect(t.logText()).not.toContain(renewed.idToken!);
  });
});

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Poll cond every 50 ms (bounded) until it returns a value. */
async function waitFor<T>(what: string, cond: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  for (let i = 0; i < timeoutMs / 50; i++) {
    const v = cond();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The verification URI and user code the device flow printed. */
function announced(text: string): { uri: string; code: string; complete?: string } | undefined {
  const m = /open (\S+) on any device and enter the code: (\S+)/.exec(text);
  if (!m) return undefined;
  return { uri: m[1]!, code: m[2]!, complete: /\(or open (\S+) to skip/.exec(text)?.[1] };
}

describe('device authorization grant (RFC 8628)', () => {
  it('prints the URL and code, honours slow_down, and stores a session once the user approves on the device page', async () => {
    const l = await lab({ idp: { deviceInterval: 1, deviceSlowDownOnce: true } });
    const t = makeDeps(); // a browser must never be opened
    const session = createAuthSession({ options: options(l.gateway.url, { grant: 'device' }), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const signingIn = session.signIn();
    signingIn.catch(() => undefined);
    const shown = await waitFor('the device code on stderr', () => announced(t.logText()));
    expect(shown.complete).toContain(`user_code=`);
    // Approve only after the first poll, so it is answered slow_down (the lab's deviceSlowDownOnce).
    await waitFor('the first poll', () => l.idp.record.tokenRequests.some((r) => r.grant_type === DEVICE_GRANT));
    const { completeDeviceLogin } = await import('../../scripts/lab/scriptedLogin.js');
    await completeDeviceLogin(shown.uri, shown.code);
    const stored = await signingIn;
    expect(l.idp.record.slowDowns).toBe(1);
    const polls = l.idp.record.tokenRequests.filter((r) => r.grant_type === DEVICE_GRANT);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.at(-1)!.resource).toBe(l.gateway.url);
    expect(stored).toMatchObject({ grant: 'device_code', clientSource: 'dynamic', issuer: l.idp.issuer });
    expect(stored.refreshToken).toBeTruthy();
    expect(t.opened).toHaveLength(0);
    expect(l.idp.record.registrations[0]).toMatchObject({ grant_types: expect.arrayContaining([DEVICE_GRANT]) });
    expect(await initialize(l.gateway.url, await session.authorizationHeader())).toBe(200);
    expect(t.logText()).not.toContain(stored.accessToken);
  });

  it('ends with a clear message when the code expires, and refuses when the server has no device endpoint', async () => {
    const l = await lab({ idp: { deviceInterval: 1, deviceCodeTtl: 2 } });
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url, { grant: 'device' }), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err = await session.signIn().catch((e: unknown) => e);
    expect((err as KeybridgeError).code).toBe('device_code_expired');
    expect((err as Error).message).toContain('device code expired');

    const none = await lab({ idp: { deviceFlow: false } });
    const t2 = makeDeps();
    const s2 = createAuthSession({ options: options(none.gateway.url, { grant: 'device' }), deps: t2.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const err2 = await s2.signIn().catch((e: unknown) => e);
    expect((err2 as KeybridgeError).code).toBe('device_unsupported');
    expect((err2 as Error).message).toContain('no device authorization endpoint');
    expect(t2.logText()).not.toContain('enter the code');
  });

  it('reports a user who aborts on the device page', async () => {
    const l = await lab({ idp: { deviceInterval: 1 } });
    const t = makeDeps();
    const session = createAuthSession({ options: options(l.gateway.url, { grant: 'device' }), deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    const signingIn = session.signIn().catch((e: unknown) => e);
    const shown = await waitFor('the device code on stderr', () => announced(t.logText()));
    const { completeDeviceLogin } = await import('../../scripts/lab/scriptedLogin.js');
    await completeDeviceLogin(shown.uri, shown.code, { deny: true });
    const err = await signingIn;
    expect((err as KeybridgeError).code).toBe('oauth_access_denied');
    expect((err as Error).message).toContain('declined on the device page');
  });
});

describe('client credentials (machine access)', () => {
  it('gets a token without a browser, keeps no refresh token, fetches a new one when it expires, and stays apart from user sessions', async () => {
    const l = await lab({ accessTokenTtl: 300 });
    const store = new MemoryStore();
    const lockDir = await tempLockDir();
    const t = makeDeps();
    const { clientId, clientSecret } = l.idp.serviceClient;
    const machine = createAuthSession({ options: options(l.gateway.url, { grant: 'client-credentials', clientId, clientSecret }), deps: t.deps, store, lockDir });
    expect(machine.key.startsWith('machine:')).toBe(true);
    expect(await requestWithAuth(machine, l.gateway.url)).toBe(200);
    const first = (await machine.currentSession())!;
    expect(first).toMatchObject({ grant: 'client_credentials', clientId, clientSource: 'pre-registered', tokenEndpointAuthMethod: 'client_secret_basic' });
    expect(first.refreshToken).toBeUndefined();
    const requests = l.idp.record.tokenRequests.filter((r) => r.grant_type === 'client_credentials');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.resource).toBe(l.gateway.url);
    expect(t.opened).toHaveLength(0);
    expect(t.logText()).not.toContain(clientSecret);
    expect(t.logText()).not.toContain(first.accessToken);

    // Expired: a new token by the same grant (a second process, no secret given: the stored one is used).
    const later = makeDeps();
    later.advance(301_000);
    const again = createAuthSession({ options: options(l.gateway.url, { grant: 'client-credentials', clientId }), deps: later.deps, store, lockDir });
    const header = await again.authorizationHeader();
    expect(l.idp.record.tokenRequests.filter((r) => r.grant_type === 'client_credentials')).toHaveLength(2);
    expect(header).not.toBe(`Bearer ${first.accessToken}`);
    expect(await initialize(l.gateway.url, header)).toBe(200);

    // Never crossed with a user's profile: the same server and client id, without the grant.
    const userProfile = createAuthSession({ options: options(l.gateway.url, { clientId, interactive: false }), deps: makeDeps().deps, store, lockDir });
    expect(userProfile.key).not.toBe(machine.key);
    expect(await userProfile.currentSession()).toBeUndefined();
    expect(await userProfile.authorizationHeader()).toBeUndefined();
    // Even a machine record planted under the user's key is not used for the user, nor a user's record for the machine.
    await store.set(userProfile.key, await store.get(machine.key));
    const planted = createAuthSession({ options: options(l.gateway.url, { clientId, interactive: false }), deps: makeDeps().deps, store, lockDir });
    expect(await planted.currentSession()).toBeUndefined();
    const user = createAuthSession({ options: options(l.gateway.url), deps: makeDeps(scriptedUser()).deps, store, lockDir });
    const userSession = await user.signIn();
    await store.set(machine.key, userSession);
    const machine2 = createAuthSession({ options: options(l.gateway.url, { grant: 'client-credentials', clientId }), deps: makeDeps().deps, store, lockDir });
    expect(await machine2.currentSession()).toBeUndefined();
  });

  it('works with --token-endpoint and no discovery at all; a refused client secret ends in a clear error', async () => {
    const l = await lab();
    const t = makeDeps();
    const seen: string[] = [];
    t.deps.fetch = async (input, init) => {
      seen.push(String(input));
      return globalThis.fetch(input, init);
    };
    const { clientId, clientSecret } = l.idp.serviceClient;
    const session = createAuthSession({
      options: options(l.gateway.url, { grant: 'client-credentials', clientId, clientSecret, tokenEndpoint: `${l.idp.issuer}/token`, scope: 'mcp:tools' }),
      deps: t.deps,
      store: new MemoryStore(),
      lockDir: await tempLockDir(),
    });
    expect(await requestWithAuth(session, l.gateway.url)).toBe(200);
    expect(seen.some((u) => u.includes('/.well-known/'))).toBe(false);
    expect(seen).toEqual([`${l.idp.issuer}/token`]);

    const wrong = createAuthSession({
      options: options(l.gateway.url, { grant: 'client-credentials', clientId, clientSecret: 'not-the-secret', tokenEndpoint: `${l.idp.issuer}/token` }),
      deps: makeDeps().deps,
      store: new MemoryStore(),
      lockDir: await tempLockDir(),
    });
    const err = await wrong.authorizationHeader().catch((e: unknown) => e);
    expect((err as KeybridgeError).code).toBe('oauth_invalid_client');
    expect((err as Error).message).toContain('check its secret or key');
  });
});

/** A Cognito-like lab and its pre-registered public app client with a fixed loopback redirect. */
async function cognitoLab(): Promise<{ l: OAuthLab; port: number; clientId: string }> {
  const port = await freePort();
  const clientId = 'kb-cognito-app';
  const l = await lab({
    idp: {
      cognitoLike: true,
      staticClients: [
        {
          client_id: clientId,
          application_type: 'native',
          redirect_uris: [`http://127.0.0.1:${port}/callback`],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      ],
    },
  });
  return { l, port, clientId };
}

describe('a Cognito-like authorization server', () => {
  it('each documented flag is needed: --client-id, --assume-pkce-s256, --no-resource', async () => {
    const { l, port, clientId } = await cognitoLab();
    const lockDir = await tempLockDir();
    const attempt = async (extra: Partial<AuthOptions>): Promise<KeybridgeError> =>
      (await createAuthSession({ options: options(l.gateway.url, extra), deps: makeDeps(user).deps, store: new MemoryStore(), lockDir })
        .signIn()
        .catch((e: unknown) => e)) as KeybridgeError;
    expect((await attempt({ assumePkceS256: true, noResource: true })).code).toBe('registration_unsupported');
    expect((await attempt({ clientId, callbackPort: port, noResource: true })).code).toBe('pkce_unsupported');
    const withResource = await attempt({ clientId, callbackPort: port, assumePkceS256: true });
    expect(withResource.code).toBe('oauth_invalid_request');
    expect(withResource.message).toContain('resource parameter is not supported');

    const ok = createAuthSession({
      options: options(l.gateway.url, { clientId, callbackPort: port, assumePkceS256: true, noResource: true }),
      deps: makeDeps(user).deps,
      store: new MemoryStore(),
      lockDir,
    });
    expect(await requestWithAuth(ok, l.gateway.url)).toBe(200);
    const auth = l.idp.record.authorizationRequests.at(-1)!;
    expect(auth.resource).toBeUndefined();
    expect(auth.code_challenge_method).toBe('S256');
    expect(l.idp.record.tokenRequests.at(-1)!.resource).toBeUndefined();
    expect(l.idp.record.registrations).toHaveLength(0);
  });
});

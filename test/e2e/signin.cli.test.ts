/**
 * The sign-in, end to end through the BUILT CLI: a real MCP SDK client spawns
 * `node bin/mcp-keybridge.js <gateway>` over stdio, against the lab (oidc-provider + SDK gateway
 * validating JWTs) on 127.0.0.1, with the default `--token-store keychain` on the real Secret
 * Service and the scripted $BROWSER (dist/scripts/lab/scriptedBrowser.js) as the user.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/signin.cli.test.ts
 *
 * Protocol details already proven at the library level (test/e2e/auth.signin.test.ts,
 * test/unit/auth.issuerCheck.test.ts) are checked here only as CLI wiring: resource on both
 * requests, the S256 pair the identity provider verified, iss on the accepted callback.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { profileKey } from '../../src/auth/profile.js';
import { parseStoredSession, type StoredSession } from '../../src/auth/tokenSet.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { KeychainStore } from '../../src/store/keychainStore.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import {
  bearerTokensSeen,
  cliKeychain,
  filesUnder,
  jwtClaims,
  labKeys,
  launches,
  s256,
  sdkClient,
  startBridge,
  startOAuthLab,
  waitQuiet,
  waitUntil,
  whoami,
  workspace,
  type Cleanup,
  type OAuthLab,
} from './harness/signinWorkspace.js';

const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
if (!hasSessionBus) {
  console.warn('signin.cli: no DBUS_SESSION_BUS_ADDRESS, skipping (the CLI keeps tokens in the Secret Service); run under `bash scripts/with-keyring.sh`.');
}

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** The session the CLI stored in the keychain for this gateway (and client id). */
async function storedSession(lab: OAuthLab, profile: { clientId?: string; scope?: string } = {}): Promise<StoredSession | undefined> {
  return parseStoredSession(await (await cliKeychain()).get(profileKey({ server: lab.gateway.url, ...profile })));
}

const grants = (lab: OAuthLab, type: string) => lab.idp.record.tokenRequests.filter((r) => r.grant_type === type);

/** A port that was free a moment ago (for a client registered with a fixed redirect URI). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Wait (bounded) until the access token the CLI holds is past its expiry, by the token's own exp. */
async function waitPastExpiry(lab: OAuthLab, profile: { clientId?: string; scope?: string } = {}): Promise<StoredSession> {
  const held = await storedSession(lab, profile);
  expect(held?.expiresAt).toBeTypeOf('number');
  const exp = jwtClaims(held!.accessToken).exp as number;
  // exp has a 1 s resolution: wait until a full second past it, at most 15 s.
  await waitUntil('the access token to expire', () => Date.now() > (exp + 1) * 1000 && Date.now() > held!.expiresAt!, 15_000);
  return held!;
}

function secretToolSearch(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('secret-tool', ['search', '--all', 'service', 'mcp-keybridge'], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`secret-tool failed: ${err.message}\n${stderr}`));
      // secret-tool prints the attributes on stderr and the secrets on stdout.
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

describe.skipIf(!hasSessionBus)('sign-in through the built CLI (real SDK client, lab IdP and gateway, Secret Service)', () => {
  it('signs in through $BROWSER on the first start, and a second process starts with no browser at all', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);

    const first = startBridge(cleanups, [lab.gateway.url], ws);
    const c1 = sdkClient(cleanups);
    await c1.connect(first.transport());
    expect(await whoami(c1)).toMatchObject({ sub: 'alice', aud: lab.gateway.url });
    expect(launches(ws)).toHaveLength(1);
    await c1.close();
    expect(await first.exited).toBe(0);
    assertStdoutIsJsonRpc(first.stdout());

    // The CLI wired the protocol MUSTs: resource on both requests, an S256 pair the IdP verified.
    const auth = lab.idp.record.authorizationRequests.at(-1)!;
    expect(auth).toMatchObject({ resource: lab.gateway.url, code_challenge_method: 'S256', scope: 'mcp:tools offline_access', prompt: 'consent' });
    expect(auth.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const code = grants(lab, 'authorization_code');
    expect(code).toHaveLength(1);
    expect(code[0]!.resource).toBe(lab.gateway.url);
    expect(code[0]!.redirect_uri).toBe(auth.redirect_uri);
    expect(s256(code[0]!.code_verifier!)).toBe(auth.code_challenge);
    expect(await storedSession(lab)).toMatchObject({ clientSource: 'dynamic', resource: lab.gateway.url });

    const authorizationsBefore = lab.idp.record.authorizationRequests.length;
    const second = startBridge(cleanups, [lab.gateway.url], ws);
    const c2 = sdkClient(cleanups);
    await c2.connect(second.transport());
    expect(await whoami(c2)).toMatchObject({ sub: 'alice' });
    expect(launches(ws)).toHaveLength(1);
    expect(lab.idp.record.authorizationRequests.length).toBe(authorizationsBefore);
    expect(second.stderr()).not.toContain('Open this URL');
    await c2.close();
    expect(await second.exited).toBe(0);
    assertStdoutIsJsonRpc(second.stdout());
  });

  it('keeps the keychain off the start path for a gateway it holds no session for, and still finds a session its key index lost', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const first = startBridge(cleanups, [lab.gateway.url], ws);
    const c1 = sdkClient(cleanups);
    await c1.connect(first.transport());
    await whoami(c1);
    await c1.close();
    await first.exited;
    // The index of key names (never values) names this profile's session.
    const indexFile = path.join(ws.home, 'keychain-mcp-keybridge.keys.json');
    const index = JSON.parse(await readFile(indexFile, 'utf8')) as { v: number; keys: string[] };
    expect(index.keys).toContain(`session:${lab.gateway.url}`);
    expect(JSON.stringify(index)).not.toMatch(/eyJ/); // names only, no token

    // The hint lost (e.g. the config dir was cleared): the first request goes without a token, the
    // gateway's 401 loads the store, and the stored session is used — no browser.
    await rm(indexFile);
    const second = startBridge(cleanups, [lab.gateway.url, '--debug'], ws);
    const c2 = sdkClient(cleanups);
    await c2.connect(second.transport());
    expect(await whoami(c2)).toMatchObject({ sub: 'alice' });
    expect(launches(ws)).toHaveLength(1);
    await c2.close();
    await second.exited;
    assertStdoutIsJsonRpc(second.stdout());
  });

  it('refreshes an expired access token on the next call, with no browser', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const ws = await workspace(cleanups);
    const b = startBridge(cleanups, [lab.gateway.url], ws);
    const client = sdkClient(cleanups);
    await client.connect(b.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });

    const before = await waitPastExpiry(lab);
    const refreshesBefore = grants(lab, 'refresh_token').length;
    const tokensBefore = bearerTokensSeen(lab);
    expect(tokensBefore).toContain(before.accessToken);

    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    const refreshes = grants(lab, 'refresh_token');
    expect(refreshes.length).toBeGreaterThan(refreshesBefore);
    expect(refreshes.at(-1)!.resource).toBe(lab.gateway.url);
    // The call went out with a token obtained after the wait, which the gateway accepted.
    const lastCall = lab.gateway.record.requests.filter((r) => r.method === 'POST' && r.authorization).at(-1)!;
    expect(lastCall.status).toBe(200);
    expect(tokensBefore).not.toContain(lastCall.authorization!.replace(/^Bearer /, ''));
    expect((await storedSession(lab))!.accessToken).not.toBe(before.accessToken);
    expect(launches(ws)).toHaveLength(1);
    expect(lab.idp.record.refreshReuse).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('signs in again through the browser when the refresh token was revoked at the IdP and the access token expired', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const ws = await workspace(cleanups);
    const b = startBridge(cleanups, [lab.gateway.url], ws);
    const client = sdkClient(cleanups);
    await client.connect(b.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    expect(launches(ws)).toHaveLength(1);

    // Once the bridge is idle, the refresh token in the keychain is the current one. Revoke it as
    // the (public) client itself would (RFC 7009: the client_id authenticates a public client).
    await waitQuiet(lab);
    const held = (await storedSession(lab))!;
    expect(held.refreshToken).toBeTruthy();
    expect(held.revocationEndpoint).toBeTruthy();
    const res = await fetch(held.revocationEndpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: held.refreshToken!, token_type_hint: 'refresh_token', client_id: held.clientId }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    expect((await lab.idp.introspect(held.refreshToken!)).active).toBe(false);
    await waitPastExpiry(lab);
    // Nothing rotated it meanwhile: what the bridge holds is the revoked token.
    expect((await storedSession(lab))!.refreshToken).toBe(held.refreshToken);
    const refreshesBefore = grants(lab, 'refresh_token').length;

    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    // The bridge first tried the revoked refresh token (refused: invalid_grant), then signed in.
    expect(grants(lab, 'refresh_token')[refreshesBefore]?.refresh_token).toBe(held.refreshToken);
    expect(launches(ws)).toHaveLength(2);
    expect(grants(lab, 'authorization_code')).toHaveLength(2);
    const now = (await storedSession(lab))!;
    expect(now.refreshToken).toBeTruthy();
    expect(now.refreshToken).not.toBe(held.refreshToken);
    expect(b.stderr()).toMatch(/expired or was revoked \(invalid_grant\)/);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('uses a pre-registered confidential client (--client-id, --client-secret-env, --callback-port) without registering', async () => {
    const port = await freePort();
    const secret = `static-secret-${Math.random().toString(36).slice(2)}`;
    const lab = await startOAuthLab(cleanups, {
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
    const ws = await workspace(cleanups, { extraEnv: { KB_E2E_CLIENT_SECRET: secret } });
    const args = [lab.gateway.url, '--client-id', 'kb-static', '--client-secret-env', 'KB_E2E_CLIENT_SECRET', '--callback-port', String(port)];
    const b = startBridge(cleanups, args, ws);
    const client = sdkClient(cleanups);
    await client.connect(b.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });

    expect(lab.idp.record.registrations).toHaveLength(0);
    expect(lab.idp.record.authorizationRequests.at(-1)).toMatchObject({ client_id: 'kb-static', redirect_uri: `http://127.0.0.1:${port}/callback` });
    const code = grants(lab, 'authorization_code');
    expect(code).toHaveLength(1);
    expect(code[0]!.client_secret).toBeUndefined(); // client_secret_basic: in the Authorization header
    const stored = await storedSession(lab, { clientId: 'kb-static' });
    expect(stored).toMatchObject({ clientId: 'kb-static', clientSource: 'pre-registered', tokenEndpointAuthMethod: 'client_secret_basic' });
    // The secret comes from the environment at every start; it is never stored or printed.
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(b.stderr()).not.toContain(secret);
    expect(b.stdout()).not.toContain(secret);
    expect(launches(ws)).toHaveLength(1);
    await client.close();
    expect(await b.exited).toBe(0);
  });

  it('refuses a callback with a wrong or missing state and completes with the real one', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups, { noop: true });
    const b = startBridge(cleanups, [lab.gateway.url], ws);
    const client = sdkClient(cleanups);
    let settled = false;
    const connecting = client.connect(b.transport()).finally(() => {
      settled = true;
    });
    connecting.catch(() => undefined);

    const [launch] = await waitUntil('the bridge to launch $BROWSER', () => (launches(ws).length > 0 ? launches(ws) : undefined));
    const authorizationUrl = new URL(launch!.url);
    const redirectUri = authorizationUrl.searchParams.get('redirect_uri')!;
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const state = authorizationUrl.searchParams.get('state')!;
    expect(state).toBeTruthy();
    for (const query of ['?code=forged&state=wrong', '?code=forged', `?code=forged&state=${state}x`]) {
      const res = await fetch(`${redirectUri}${query}`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('does not belong to the sign-in in progress');
    }
    // Still waiting for the real answer: nothing was exchanged, the IDE's initialize is pending.
    expect(settled).toBe(false);
    expect(grants(lab, 'authorization_code')).toHaveLength(0);
    expect(b.stderr()).toContain('ignored a sign-in callback with a wrong or missing state');

    const result = await completeLogin(authorizationUrl.href);
    expect(result.callbackStatus).toBe(200);
    expect(result.callbackBody).toContain('Signed in');
    // RFC 9207: the lab advertises iss, and the accepted response carried it.
    expect(new URL(result.callbackUrl).searchParams.get('iss')).toBe(lab.idp.issuer);
    await connecting;
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    expect(launches(ws)).toHaveLength(1);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('refuses a callback with the right state but another issuer (RFC 9207) before exchanging any code', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups, { noop: true });
    const b = startBridge(cleanups, [lab.gateway.url, '--auth-timeout', '30'], ws);
    const client = sdkClient(cleanups);
    const connecting = client.connect(b.transport());
    connecting.catch(() => undefined);

    const [launch] = await waitUntil('the bridge to launch $BROWSER', () => (launches(ws).length > 0 ? launches(ws) : undefined));
    const authorizationUrl = new URL(launch!.url);
    const callback = new URL(authorizationUrl.searchParams.get('redirect_uri')!);
    callback.searchParams.set('code', 'forged-code');
    callback.searchParams.set('state', authorizationUrl.searchParams.get('state')!);
    callback.searchParams.set('iss', 'http://127.0.0.1:9/impostor');
    const res = await fetch(callback, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();

    // The page cannot know yet (the listener checks state only); the exchange then refuses the iss.
    expect(res.status).toBe(200);
    await expect(connecting).rejects.toThrow(/unexpected "iss" \(issuer\)/);
    expect(b.stderr()).toMatch(/authorization code exchange: .*unexpected "iss"/);
    expect(grants(lab, 'authorization_code')).toHaveLength(0);
    expect(await labKeys(lab).then((keys) => keys.filter((k) => k.startsWith('session:')))).toEqual([]);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('keeps the tokens in the Secret Service and nowhere under MCP_KEYBRIDGE_HOME or in any output, even with --debug', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const ws = await workspace(cleanups);
    // openid: an ID token too; the short TTL adds a refresh (a rotated refresh token) to the run.
    const b = startBridge(cleanups, [lab.gateway.url, '--debug', '--scope', 'openid mcp:tools'], ws);
    const client = sdkClient(cleanups);
    await client.connect(b.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    await waitPastExpiry(lab, { scope: 'openid mcp:tools' });
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    await client.close();
    expect(await b.exited).toBe(0);
    expect(grants(lab, 'refresh_token').length).toBeGreaterThan(0);

    const key = profileKey({ server: lab.gateway.url, scope: 'openid mcp:tools' });
    const stored = await storedSession(lab, { scope: 'openid mcp:tools' });
    expect(stored?.refreshToken).toBeTruthy();
    expect(stored?.idToken).toBeTruthy();
    expect(stored?.subject).toBe('alice');
    const secrets = [stored!.accessToken, stored!.refreshToken!, stored!.idToken!, ...bearerTokensSeen(lab)];
    expect(bearerTokensSeen(lab)).toContain(stored!.accessToken);

    // In the Secret Service, under the CLI's service, as seen by another Secret Service client.
    const search = await secretToolSearch();
    expect(search).toContain(`attribute.username = ${key}`);
    expect(search).toContain('attribute.service = mcp-keybridge');

    // Nowhere under MCP_KEYBRIDGE_HOME (byte scan of every file).
    const files = await filesUnder(ws.home);
    for (const { file, bytes } of files) {
      for (const s of new Set(secrets)) expect(bytes.includes(s), `${file} holds a token`).toBe(false);
      expect(bytes.includes(stored!.refreshToken!.slice(0, 16)), `${file} holds part of the refresh token`).toBe(false);
    }
    // Nor in any output, with --debug on (which did log: the refresh is a debug line).
    expect(b.stderr()).toContain('refreshed the access token');
    for (const s of new Set(secrets)) {
      expect(b.stderr().includes(s)).toBe(false);
      expect(b.stdout().includes(s)).toBe(false);
    }
    assertStdoutIsJsonRpc(b.stdout());
  });
});

describe.skipIf(!hasSessionBus)('regression: a session read while another process rewrites it', () => {
  // A bridge reading the keychain while a sibling (or its own refresh) rewrites the session saw new
  // parts under the old manifest and failed the IDE's request with store_corrupt ("run logout").
  it('reads the old or the new value, never store_corrupt', async () => {
    const keyring = await import('@napi-rs/keyring');
    const binding = { AsyncEntry: keyring.AsyncEntry, findCredentialsAsync: keyring.findCredentialsAsync };
    const service = `mcp-keybridge-test-torn-${process.pid}`;
    const writer = new KeychainStore({ keyring: binding, service });
    const reader = new KeychainStore({ keyring: binding, service });
    cleanups.push(() => writer.delete('session:torn'));
    // Two parts (each part holds at most 2,560 characters), as a session with an ID token has.
    const value = (n: number) => ({ n, accessToken: `${'a'.repeat(3_000)}${n}` });
    await writer.set('session:torn', value(0));
    const WRITES = 8;
    let done = false;
    const writes = (async () => {
      for (let n = 1; n <= WRITES; n++) {
        await writer.set('session:torn', value(n));
        await new Promise((r) => setTimeout(r, 60));
      }
      done = true;
    })();
    const seen: number[] = [];
    const failures: string[] = [];
    const deadline = Date.now() + 30_000;
    for (let i = 0; i < 2_000 && !done && Date.now() < deadline; i++) {
      try {
        const v = await reader.get<{ n: number; accessToken: string }>('session:torn');
        seen.push(v!.n);
        expect(v!.accessToken).toBe(value(v!.n).accessToken);
      } catch (error) {
        failures.push(error instanceof StoreUnavailableError ? `${error.code}: ${error.message}` : String(error));
      }
    }
    await writes;
    expect(failures).toEqual([]);
    // How many reads fit between the writes depends on the machine's load; what matters is that
    // they overlapped the writes (saw more than one value) and that none failed.
    expect(new Set(seen).size).toBeGreaterThan(1);
  });
});

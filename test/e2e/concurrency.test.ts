/**
 * Many bridges for one profile (an IDE with several windows): one sign-in, one refresh per expiry,
 * rotated refresh tokens adopted across processes. Built CLI processes, the lab (oidc-provider with
 * rotating refresh tokens and reuse detection), the real keychain (a private gnome-keyring per file, see usePrivateKeyring).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { createAuthSession } from '../../src/auth/authSession.js';
import { makeDeps as makeTestDeps } from './harness/authDeps.js';
import type { Deps } from '../../src/deps.js';
import {
  bridge,
  cliKeychain,
  connect,
  firstText,
  hasKeyringTools,
  refreshGrants,
  startOAuthLab,
  storedSession,
  waitPastExpiry,
  workspace,
  useFileFixtures,
} from './harness/labFleet.js';

const cleanups = useFileFixtures();

describe.skipIf(!hasKeyringTools)('many bridges, one profile (built CLI, lab, real keychain)', () => {
  it('five bridges started together with an empty store sign in once: one browser launch, all five list tools', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const bridges = Array.from({ length: 5 }, () => bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] }));
    const clients = await Promise.all(bridges.map((b, i) => connect(cleanups, b, `window-${i}`)));
    const lists = await Promise.all(clients.map((c) => c.listTools()));
    for (const { tools } of lists) expect(tools.map((t) => t.name)).toContain('echo');

    expect(ws.launches()).toBe(1);
    expect(lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'authorization_code')).toHaveLength(1);
    expect(lab.idp.record.registrations).toHaveLength(1);
    // Four of them waited for the first one's sign-in and adopted its session.
    const waited = bridges.filter((b) => b.stderr().includes('waiting for a sign-in in another mcp-keybridge process')).length;
    const adopted = bridges.filter((b) => b.stderr().includes('adopted the session stored by another mcp-keybridge process')).length;
    expect(adopted).toBe(4);
    expect(waited).toBeGreaterThanOrEqual(1);
    // Every call carried the one token that was issued.
    const stored = await storedSession(lab);
    const bearer = lab.gateway.record.requests.filter((r) => r.method === 'POST' && r.status === 200).map((r) => r.authorization);
    expect(new Set(bearer)).toEqual(new Set([`Bearer ${stored!.accessToken}`]));
  });

  it('refreshes once per expiry across processes; a bridge whose refresh token a sibling rotated adopts the sibling\'s tokens', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 4 });
    const ws = await workspace(cleanups);
    const bridges = Array.from({ length: 5 }, () => bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] }));
    const clients = await Promise.all(bridges.map((b, i) => connect(cleanups, b, `window-${i}`)));
    await Promise.all(clients.map((c) => c.listTools()));
    expect(ws.launches()).toBe(1);

    // One after the other: the first refreshes (rotating the refresh token), the others adopt.
    const before = await waitPastExpiry(lab);
    const grantsBefore = refreshGrants(lab.idp);
    for (const [i, c] of clients.entries()) {
      expect(firstText(await c.callTool({ name: 'echo', arguments: { text: `seq-${i}` } }))).toBe(`seq-${i}`);
    }
    expect(refreshGrants(lab.idp) - grantsBefore).toBe(1);
    const after = (await storedSession(lab))!;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(bridges.filter((b) => b.stderr().includes('adopting the token another mcp-keybridge process obtained')).length).toBeGreaterThanOrEqual(4);

    // All at once: still one refresh.
    await waitPastExpiry(lab);
    const grantsMid = refreshGrants(lab.idp);
    const texts = await Promise.all(clients.map((c, i) => c.callTool({ name: 'echo', arguments: { text: `par-${i}` } }).then(firstText)));
    expect(texts).toEqual(clients.map((_, i) => `par-${i}`));
    expect(refreshGrants(lab.idp) - grantsMid).toBe(1);

    expect(lab.idp.record.refreshReuse).toBe(0);
    expect(ws.launches()).toBe(1);
  });
});

/** Deps for an in-process AuthSession whose browser is the scripted lab user. */
function makeDeps(): { deps: Deps; opened: string[]; log: () => string } {
  const t = makeTestDeps(async (url) => void (await completeLogin(url)));
  return { deps: t.deps, opened: t.opened, log: t.logText };
}

describe.skipIf(!hasKeyringTools)('a refused refresh and a sibling sign-in (in process, real keychain)', () => {
  it('never deletes the session a sibling stored while the refresh was being refused, and adopts it', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const lockDir = await mkdtemp(path.join(tmpdir(), 'kb-locks-'));
    cleanups.push(() => rm(lockDir, { recursive: true, force: true }));
    const store = await cliKeychain();
    const options = { serverUrl: new URL(lab.gateway.url), authTimeoutMs: 20_000, interactive: true };
    const a = makeDeps();
    const b = makeDeps();
    const first = createAuthSession({ options, deps: a.deps, store, lockDir });
    const sibling = createAuthSession({ options, deps: b.deps, store, lockDir });
    const s1 = await first.signIn();

    // The refresh token is revoked at the identity provider, so first's refresh will be refused (invalid_grant).
    const revoke = await fetch(`${lab.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: s1.refreshToken!, token_type_hint: 'refresh_token', client_id: s1.clientId }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    expect(revoke.status).toBe(200);

    // The race, made deterministic: the sibling's sign-in lands while first's refresh request is on its way.
    let siblingSession: Awaited<ReturnType<typeof sibling.signIn>> | undefined;
    const realFetch = a.deps.fetch;
    a.deps.fetch = async (input, init) => {
      if (String(init?.body ?? '').includes('grant_type=refresh_token') && siblingSession === undefined) {
        siblingSession = await sibling.signIn({ force: true });
      }
      return realFetch(input, init);
    };
    await waitPastExpiry(lab);
    const header = await first.authorizationHeader();

    expect(siblingSession).toBeDefined();
    expect(lab.idp.record.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token' });
    expect(header).toBe(`Bearer ${siblingSession!.accessToken}`);
    expect((await storedSession(lab))?.accessToken).toBe(siblingSession!.accessToken);
    expect(a.opened).toHaveLength(1); // only its own first sign-in
    expect(b.opened).toHaveLength(1);
    expect(a.log()).toContain('stored a new session meanwhile; adopting it');
  });

  it('a session signed in while a refresh is on its way is not overwritten by the refreshed one', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const lockDir = await mkdtemp(path.join(tmpdir(), 'kb-locks-'));
    cleanups.push(() => rm(lockDir, { recursive: true, force: true }));
    const store = await cliKeychain();
    const options = { serverUrl: new URL(lab.gateway.url), authTimeoutMs: 20_000, interactive: true };
    const a = makeDeps();
    const b = makeDeps();
    const first = createAuthSession({ options, deps: a.deps, store, lockDir });
    const sibling = createAuthSession({ options, deps: b.deps, store, lockDir });
    await first.signIn();

    // `login --force` in another process lands while first's (successful) refresh is on its way.
    let siblingSession: Awaited<ReturnType<typeof sibling.signIn>> | undefined;
    const realFetch = a.deps.fetch;
    a.deps.fetch = async (input, init) => {
      if (String(init?.body ?? '').includes('grant_type=refresh_token') && siblingSession === undefined) {
        siblingSession = await sibling.signIn({ force: true });
      }
      return realFetch(input, init);
    };
    await waitPastExpiry(lab);
    const header = await first.authorizationHeader();

    expect(siblingSession).toBeDefined();
    expect(lab.idp.record.tokenRequests.at(-1)).toMatchObject({ grant_type: 'refresh_token' }); // the refresh itself succeeded
    expect((await storedSession(lab))?.accessToken).toBe(siblingSession!.accessToken);
    expect(header).toBe(`Bearer ${siblingSession!.accessToken}`);
  });
});

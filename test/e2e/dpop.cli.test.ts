/**
 * DPoP (RFC 9449) end to end through the BUILT CLI: a real MCP SDK client spawns the bridge over
 * stdio against the lab in its 'dpop' mode (oidc-provider with its DPoP feature and nonces, the
 * SDK gateway checking proofs and cnf.jkt with jose), the real Secret Service as the store.
 *
 *   npm run build && bash scripts/with-keyring.sh npx vitest run test/e2e/dpop.cli.test.ts
 */
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createDpopKey } from '../../src/auth/dpop/dpopGrant.js';
import { DpopProofSigner } from '../../src/auth/dpop/dpopProofSigner.js';
import { profileKey } from '../../src/auth/profile.js';
import { parseStoredSession, type StoredSession } from '../../src/auth/tokenSet.js';
import { BIN } from './harness/bridgeProcess.js';
import {
  cliKeychain,
  filesUnder,
  jwtClaims,
  launches,
  sdkClient,
  startBridge,
  startOAuthLab,
  waitQuiet,
  waitUntil,
  whoami,
  workspace,
  type Cleanup,
  type OAuthLab,
  type Workspace,
} from './harness/signinWorkspace.js';

const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
if (!hasSessionBus) console.warn('dpop.cli: no DBUS_SESSION_BUS_ADDRESS, skipping; run under `bash scripts/with-keyring.sh`.');

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function storedSession(lab: OAuthLab): Promise<StoredSession | undefined> {
  return parseStoredSession(await (await cliKeychain()).get(profileKey({ server: lab.gateway.url })));
}

/** An MCP initialize POST to the gateway with exactly these headers (the test playing a thief). */
async function initializeWith(lab: OAuthLab, headers: Record<string, string>): Promise<{ status: number; wwwAuthenticate: string | null }> {
  const res = await fetch(lab.gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'thief', version: '1' } } }),
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
}

function cli(ws: Workspace, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...ws.env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!hasSessionBus)('DPoP through the built CLI (lab in dpop mode, real SDK client, Secret Service)', () => {
  it('signs in with a DPoP-bound token, answers the IdP and gateway nonces, keeps the binding across a refresh, and the token is refused without the key', async () => {
    const lab = await startOAuthLab(cleanups, { dpop: { idpNonce: true, gatewayNonce: true }, accessTokenTtl: 6, idp: { refreshTokens: 'always' } });
    const ws = await workspace(cleanups);
    const bridge = startBridge(cleanups, [lab.gateway.url], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice', token_kind: 'access' });
    expect(launches(ws)).toHaveLength(1);

    // Sign-in yields a DPoP-bound token: the key is in the keychain entry, the token names it.
    const held = (await storedSession(lab))!;
    expect(held.tokenType).toBe('DPoP');
    expect(held.dpop?.alg).toBe('ES256');
    expect((jwtClaims(held.accessToken).cnf as { jkt?: string }).jkt).toBe(held.dpop!.jkt);
    expect(lab.idp.record.tokenResponses.every((r) => r.token_type === 'DPoP')).toBe(true);
    // The authorization server's nonce (400 use_dpop_nonce) and the gateway's (401) were both answered.
    expect(lab.idp.record.dpopNonceChallenges).toBeGreaterThanOrEqual(1);
    const gw = lab.gateway.dpop()!;
    expect(gw.record.nonceChallenges).toBeGreaterThanOrEqual(1);
    expect(gw.record.accepted).toBeGreaterThanOrEqual(2);
    expect(gw.record.refusals).toEqual([]);
    const presented = lab.gateway.record.requests.map((r) => r.authorization).filter((a): a is string => a !== undefined);
    expect(presented.length).toBeGreaterThan(0);
    expect(presented.every((a) => a.startsWith('DPoP '))).toBe(true);

    // The test replays the token as a thief would: as Bearer, as DPoP without a proof, with a proof from another key.
    const url = new URL(lab.gateway.url);
    const signer = new DpopProofSigner({ now: () => Date.now() });
    const proofFor = (key: NonNullable<StoredSession['dpop']>): string => signer.proof({ key, htm: 'POST', url, accessToken: held.accessToken, nonce: gw.nonce });
    expect((await initializeWith(lab, { authorization: `Bearer ${held.accessToken}` })).status).toBe(401);
    expect((await initializeWith(lab, { authorization: `DPoP ${held.accessToken}` })).status).toBe(401);
    const other = await createDpopKey('ES256');
    const stolen = await initializeWith(lab, { authorization: `DPoP ${held.accessToken}`, dpop: proofFor(other) });
    expect(stolen.status).toBe(401);
    expect(stolen.wwwAuthenticate).toMatch(/DPoP error="invalid_dpop_proof"/);
    expect(gw.record.refusals).toEqual(['a DPoP-bound token presented as Bearer', 'no DPoP proof', 'the proof key is not the key the token is bound to (cnf.jkt)']);
    // Control: the same request with a proof from the stored key is accepted, so the refusals were about the key.
    const proof = proofFor(held.dpop!);
    expect((await initializeWith(lab, { authorization: `DPoP ${held.accessToken}`, dpop: proof })).status).toBe(200);
    // ...and that proof, replayed, is not (jti replay detection).
    expect((await initializeWith(lab, { authorization: `DPoP ${held.accessToken}`, dpop: proof })).status).toBe(401);

    // A rotated gateway nonce is answered; after the token expires the refresh keeps the binding.
    gw.rotateNonce();
    const challengesBefore = gw.record.nonceChallenges;
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    expect(gw.record.nonceChallenges).toBe(challengesBefore + 1);
    const exp = jwtClaims(held.accessToken).exp as number;
    await waitUntil('the access token to expire', () => Date.now() > (exp + 1) * 1000, 20_000);
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    const refreshed = (await storedSession(lab))!;
    expect(lab.idp.record.tokenRequests.some((r) => r.grant_type === 'refresh_token')).toBe(true);
    expect(refreshed.accessToken).not.toBe(held.accessToken);
    expect(refreshed.dpop).toEqual(held.dpop);
    expect((jwtClaims(refreshed.accessToken).cnf as { jkt?: string }).jkt).toBe(held.dpop!.jkt);
    // The next refresh sends the nonce the IdP gave the last one: no use_dpop_nonce round trip.
    const refreshes = () => lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;
    const [refreshesBefore, idpChallengesBefore] = [refreshes(), lab.idp.record.dpopNonceChallenges];
    const exp2 = jwtClaims(refreshed.accessToken).exp as number;
    await waitUntil('the refreshed access token to expire', () => Date.now() > (exp2 + 1) * 1000, 20_000);
    expect(await whoami(client)).toMatchObject({ sub: 'alice' });
    expect(refreshes()).toBe(refreshesBefore + 1);
    expect(lab.idp.record.dpopNonceChallenges).toBe(idpChallengesBefore);
    expect(launches(ws)).toHaveLength(1);
    await client.close();
    expect(await bridge.exited).toBe(0);
    await waitQuiet(lab, 500);

    // status shows the binding and the thumbprint, never the key; no file under the home holds the key.
    const status = await cli(ws, ['status', lab.gateway.url, '--json']);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as { sessions: { binding: string; dpop: { jkt: string } | null }[] };
    expect(doc.sessions[0]).toMatchObject({ binding: 'dpop', dpop: { alg: 'ES256', jkt: held.dpop!.jkt } });
    const human = await cli(ws, ['status', lab.gateway.url]);
    expect(`${human.stdout}${human.stderr}`).toContain(`Bearer: dpop`);
    const secret = (held.dpop!.privateJwk as { d: string }).d;
    for (const out of [status, human]) expect(`${out.stdout}${out.stderr}`).not.toContain(secret);
    for (const f of await filesUnder(ws.home)) expect(f.bytes.includes(secret), f.file).toBe(false);

    // logout deletes the key with the tokens.
    expect((await cli(ws, ['logout', lab.gateway.url])).code).toBe(0);
    expect(await (await cliKeychain()).get(profileKey({ server: lab.gateway.url }))).toBeUndefined();
  });

  it('a gateway that does not understand DPoP although its IdP offers it: the refusal says to use --no-dpop, which then works with Bearer', async () => {
    const lab = await startOAuthLab(cleanups, { idp: { dpop: {} } });
    const ws = await workspace(cleanups);
    const bound = startBridge(cleanups, [lab.gateway.url], ws);
    const c1 = sdkClient(cleanups);
    const refused = await c1.connect(bound.transport()).then(() => undefined, (e: unknown) => e as Error);
    expect(refused?.message).toMatch(/--no-dpop/);
    await c1.close();
    await bound.exited;
    const plain = startBridge(cleanups, [lab.gateway.url, '--no-dpop'], ws);
    const c2 = sdkClient(cleanups);
    await c2.connect(plain.transport());
    expect(await whoami(c2)).toMatchObject({ sub: 'alice' });
    expect((await storedSession(lab))).toMatchObject({ tokenType: 'Bearer' });
    expect((await storedSession(lab))?.dpop).toBeUndefined();
    await c2.close();
    expect(await plain.exited).toBe(0);
  });

  it('five bridges started together sign in once and share one key', async () => {
    const lab = await startOAuthLab(cleanups, { dpop: { gatewayNonce: true, requireBound: true } });
    const ws = await workspace(cleanups);
    const bridges = Array.from({ length: 5 }, () => startBridge(cleanups, [lab.gateway.url], ws));
    const clients = bridges.map(() => sdkClient(cleanups));
    await Promise.all(clients.map((c, i) => c.connect(bridges[i]!.transport())));
    const who = await Promise.all(clients.map((c) => whoami(c)));
    expect(who.every((w) => w.sub === 'alice')).toBe(true);
    expect(launches(ws)).toHaveLength(1);
    expect(lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'authorization_code')).toHaveLength(1);
    const held = (await storedSession(lab))!;
    // Every token the gateway accepted is bound to the one stored key.
    const tokens = new Set(lab.gateway.record.requests.map((r) => r.authorization).filter((a): a is string => a?.startsWith('DPoP ') === true));
    expect(tokens.size).toBe(1);
    for (const t of tokens) expect((jwtClaims(t.slice(5)).cnf as { jkt: string }).jkt).toBe(held.dpop!.jkt);
    expect(lab.gateway.dpop()!.record.refusals).toEqual([]);
    await Promise.all(clients.map((c) => c.close()));
    expect(await Promise.all(bridges.map((b) => b.exited))).toEqual([0, 0, 0, 0, 0]);
  });
});

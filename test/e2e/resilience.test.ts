/**
 * Sleep and long idle: expired tokens, a dead server stream, an expired gateway session. Built CLI,
 * lab (oidc-provider + SDK gateway), real keychain (a private gnome-keyring per file, see usePrivateKeyring).
 */
import { describe, expect, it } from 'vitest';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway } from '../../scripts/lab/gateway.js';
import { LAB_SCOPES_SUPPORTED } from '../../scripts/lab/lab.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import {
  bridge,
  connect,
  firstText,
  hasKeyringTools,
  refreshGrants,
  sleep,
  startOAuthLab,
  storedSession,
  waitPastExpiry,
  waitUntil,
  workspace,
  useFileFixtures,
} from './harness/labFleet.js';

const cleanups = useFileFixtures();

describe.skipIf(!hasKeyringTools)('after sleep or a long idle (built CLI, lab, real keychain)', () => {
  it('the first call after the access token expired refreshes and succeeds; with the refresh token dead too, it signs in once and succeeds', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 3 });
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe('before');

    // Idle well past the expiry (the laptop slept).
    await waitPastExpiry(lab, 2_000);
    const grants = refreshGrants(lab.idp);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'after idle' } }))).toBe('after idle');
    expect(refreshGrants(lab.idp)).toBe(grants + 1);
    expect(ws.launches()).toBe(1);

    // Longer still: the refresh token is gone as well (revoked here; expired after a long trip).
    const held = (await storedSession(lab))!;
    const revoke = await fetch(`${lab.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: held.refreshToken!, token_type_hint: 'refresh_token', client_id: held.clientId }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    expect(revoke.status).toBe(200);
    await waitPastExpiry(lab, 1_000);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'after a trip' } }))).toBe('after a trip');
    expect(ws.launches()).toBe(2);
    expect(b.stderr()).toMatch(/expired or was revoked \(invalid_grant\)/);
    expect(b.messages.some((m) => 'error' in (m as object))).toBe(false);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('reopens the server stream when the gateway restarts on the same port, and keeps serving', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    // The standalone notification travels on the GET stream, once that is open.
    const streamOpen = (gw: typeof lab.gateway) => gw.record.requests.some((r) => r.method === 'GET' && r.path === '/mcp' && r.status === 200 && r.sessionId !== undefined);
    expect(await waitUntil(() => streamOpen(lab.gateway), 10_000)).toBe(true);
    await client.callTool({ name: 'notify', arguments: { channel: 'standalone' } });
    expect(await waitUntil(() => logs.length === 1, 10_000)).toBe(true);

    const { port, url } = lab.gateway;
    await lab.gateway.close();
    await sleep(1_500);
    const again = await startGateway({
      port,
      auth: { mode: 'jwt', issuer: lab.idp.issuer, jwksUri: lab.idp.jwksUri, audience: url, scopesSupported: LAB_SCOPES_SUPPORTED },
    });
    cleanups.push(() => again.close());

    // Without any request from the IDE, the bridge re-creates the session and reopens the stream.
    expect(await waitUntil(() => streamOpen(again), 40_000), b.stderr()).toBe(true);
    expect(again.record.rpc.filter((m) => m.method === 'initialize')).toHaveLength(1);
    await client.callTool({ name: 'notify', arguments: { channel: 'standalone' } });
    expect(await waitUntil(() => logs.length === 2, 10_000)).toBe(true);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe('still here');
    expect(ws.launches()).toBe(1);
    expect(b.messages.some((m) => 'error' in (m as object))).toBe(false);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('re-creates an expired gateway session by replaying the IDE\'s initialize, then the pending requests, once', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);
    await client.listTools();
    const original = lab.gateway.record.rpc.filter((m) => m.method === 'initialize' && m.fault === undefined);
    // The era probe (server/discover) met the 401 and the sign-in; the IDE's initialize went once.
    expect(original).toHaveLength(1);
    const initId = original[0]!.id;

    const expired = await lab.gateway.expireSessions();
    expect(expired).toHaveLength(1);
    const texts = await Promise.all([1, 2, 3, 4, 5].map((i) => client.callTool({ name: 'echo', arguments: { text: `after-${i}` } }).then(firstText)));
    expect(texts).toEqual([1, 2, 3, 4, 5].map((i) => `after-${i}`));

    const initializes = lab.gateway.record.rpc.filter((m) => m.method === 'initialize');
    expect(initializes).toHaveLength(2); // the original, one replay
    expect(initializes[1]!.id).toEqual(initId);
    expect(initializes[1]!.sessionId).toBeUndefined();
    expect(lab.gateway.record.rpc.filter((m) => m.method === 'notifications/initialized')).toHaveLength(2);
    const newSession = lab.gateway.record.rpc.findLast((m) => m.method === 'tools/call')!.sessionId;
    expect(newSession).toBeDefined();
    expect(newSession).not.toBe(expired[0]);
    // The IDE saw one initialize answer and no error.
    expect(b.messages.filter((m) => (m as { id?: unknown }).id === initId)).toHaveLength(1);
    expect(b.messages.some((m) => 'error' in (m as object))).toBe(false);
    expect(b.stderr()).toContain('the gateway session expired; starting a new one');
    // MCP-Protocol-Version: the version the initialize answer named, on every message after it, in
    // both sessions; never on an initialize (the replay negotiates again).
    const negotiated = (b.messages.find((m) => (m as { id?: unknown }).id === initId) as { result?: { protocolVersion?: string } }).result?.protocolVersion;
    expect(negotiated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(initializes.map((m) => m.protocolVersion)).toEqual([undefined, undefined]);
    const later = lab.gateway.record.rpc.filter((m) => m.method === 'notifications/initialized' || m.method === 'tools/call' || m.method === 'tools/list');
    expect(later.length).toBeGreaterThanOrEqual(2 + 5 + 1);
    expect(later.filter((m) => m.protocolVersion !== negotiated)).toEqual([]);
    assertStdoutIsJsonRpc(b.stdout());
  });
});

/**
 * Network and server faults, injected into the lab gateway (Gateway.injectFaults) or made real
 * (the identity provider stopped). Built CLI, lab, real keychain (a private gnome-keyring per file, see usePrivateKeyring).
 */
import { describe, expect, it } from 'vitest';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import {
  bridge,
  connect,
  firstText,
  hasKeyringTools,
  sleep,
  startOAuthLab,
  storedSession,
  workspace,
  useFileFixtures,
} from './harness/labFleet.js';

const cleanups = useFileFixtures();

/** The gateway's record of one JSON-RPC request id: every POST that carried it. */
function posts(rpc: { method?: string; id?: unknown; fault?: number }[], method: string): Map<unknown, { fault?: number }[]> {
  const byId = new Map<unknown, { fault?: number }[]>();
  for (const m of rpc.filter((r) => r.method === method)) byId.set(m.id, [...(byId.get(m.id) ?? []), { fault: m.fault }]);
  return byId;
}

describe.skipIf(!hasKeyringTools)('gateway faults (injected into the lab gateway)', () => {
  it('honours 503 with Retry-After: the call succeeds after the wait, and the gateway saw the retry', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);
    lab.gateway.injectFaults([{ status: 503, retryAfter: '1', method: 'tools/call' }]);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'patience' } }))).toBe('patience');
    expect(lab.gateway.pendingFaults()).toBe(0);
    const calls = [...posts(lab.gateway.record.rpc, 'tools/call').values()];
    expect(calls).toEqual([[{ fault: 503 }, { fault: undefined }]]);
    expect(lab.gateway.record.toolCalls.map((c) => c.name)).toEqual(['echo']);
    expect(b.stderr()).toContain('the gateway answered HTTP 503; retrying in 1000 ms');
  });

  it('does not retry a tools/call that got 502 (clear JSON-RPC error, seen once) but retries tools/list', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);

    lab.gateway.injectFaults([{ status: 502, method: 'tools/call' }]);
    const err = await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32000);
    expect((err as McpError).message).toMatch(/mcp-keybridge: the gateway failed: HTTP 502/);
    expect([...posts(lab.gateway.record.rpc, 'tools/call').values()]).toEqual([[{ fault: 502 }]]);
    expect(lab.gateway.record.toolCalls).toEqual([]);

    lab.gateway.injectFaults([{ status: 502, method: 'tools/list' }]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo');
    const lists = [...posts(lab.gateway.record.rpc, 'tools/list').values()];
    expect(lists.at(-1)).toEqual([{ fault: 502 }, { fault: undefined }]);

    // The bridge is still serving.
    expect(firstText(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } }))).toBe('42');
    assertStdoutIsJsonRpc(b.stdout());
  });
});

describe.skipIf(!hasKeyringTools)('identity provider down at refresh time', () => {
  it('keeps using the current token until the gateway refuses it, then answers with a clear error; no browser tab storm', async () => {
    // 20 s tokens: refreshed in their last third (from 13.3 s on).
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 20 });
    const ws = await workspace(cleanups);
    const b = bridge(cleanups, lab.gateway.url, ws, { args: ['--debug'] });
    const client = await connect(cleanups, b);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'up' } }))).toBe('up');
    const session = (await storedSession(lab))!;
    await lab.idp.close();

    // In the refresh window, 3 s before expiry: the refresh fails, the current token still works.
    await sleep(Math.max(0, session.expiresAt! - 3_000 - Date.now()));
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'still up' } }))).toBe('still up');
    expect(b.stderr()).toContain('token refresh failed, using the current token until the gateway refuses it');
    const tokenSent = `Bearer ${session.accessToken}`;
    expect(lab.gateway.record.requests.at(-1)).toMatchObject({ authorization: tokenSent, status: 200 });

    // Past expiry: the token is still offered, the gateway refuses it, the bridge answers clearly.
    await sleep(Math.max(0, session.expiresAt! + 1_500 - Date.now()));
    for (const text of ['expired-1', 'expired-2', 'expired-3']) {
      const err = await client.callTool({ name: 'echo', arguments: { text } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32000);
      expect((err as McpError).message).toMatch(/mcp-keybridge: token refresh: cannot reach the authorization server/);
    }
    const refused = lab.gateway.record.requests.filter((r) => r.status === 401 && r.authorization === tokenSent);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(ws.launches()).toBe(1);
    expect(b.child.exitCode).toBeNull();
    assertStdoutIsJsonRpc(b.stdout());
  });
});

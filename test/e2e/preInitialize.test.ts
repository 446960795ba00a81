import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

// Regression (issue 16 item 1): Claude Code sends server/discover before initialize. The bridge
// forwarded it as the session's first POST, the 2025 gateway answered 400 (no session), and
// --transport auto took that 400 for "no Streamable HTTP" and fell back to HTTP+SSE.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function gateway(): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  return gw;
}

function bridge(args: string[]): BridgeProcess {
  // A private config directory: the era cache lives there.
  const home = mkdtempSync(path.join(tmpdir(), 'keybridge-preinit-'));
  cleanups.push(async () => rmSync(home, { recursive: true, force: true }));
  const b = spawnBridge(args, { env: { MCP_KEYBRIDGE_HOME: home } });
  cleanups.push(() => b.kill());
  return b;
}

const DISCOVER = (id: unknown) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'server/discover',
    params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
  });

const INIT = (id: unknown) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

describe('requests before initialize (default --transport auto, 2025 lab gateway)', () => {
  it('answers server/discover with -32601 and ping locally, then an SDK client initializes and calls tools over Streamable HTTP', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    b.writeLine(DISCOVER('probe-1'));
    const discover = await b.waitFor((m) => m.id === 'probe-1');
    expect((discover.error as { code: number }).code).toBe(-32601);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }));
    expect((await b.waitFor((m) => m.id === 0)).result).toEqual({});
    // The probe went as a sessionless modern request (the era detection), never as a session's first POST.
    expect(gw.record.rpc.map((m) => m.method)).toEqual(['server/discover']);
    expect(gw.record.requests.every((r) => r.sessionId === undefined)).toBe(true);

    const client = new Client({ name: 'claude-code-like', version: '1.0.0' }, { capabilities: {} });
    await client.connect(b.transport());
    cleanups.push(() => client.close());
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(await client.callTool({ name: 'echo', arguments: { text: 'after the probe' } })).toMatchObject({
      content: [{ text: 'after the probe' }],
    });
    expect(gw.record.rpc.filter((m) => m.method !== 'server/discover')[0]?.method).toBe('initialize');
    expect(gw.record.rpc.filter((m) => m.method === 'server/discover').every((m) => m.sessionId === undefined)).toBe(true);
    expect(b.stderr()).not.toContain('legacy HTTP+SSE');
    await client.close();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('with --protocol 2025 nothing reaches the gateway before initialize', async () => {
    const gw = await gateway();
    const b = bridge([gw.url, '--protocol', '2025']);
    b.writeLine(DISCOVER('probe-2'));
    expect(((await b.waitFor((m) => m.id === 'probe-2')).error as { code: number }).code).toBe(-32601);
    expect(gw.record.requests).toEqual([]);
    b.writeLine(INIT(1));
    expect((await b.waitFor((m) => m.id === 1)).result).toMatchObject({ serverInfo: expect.any(Object) });
    expect(gw.record.rpc.map((m) => m.method)).toEqual(['initialize']);
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
  });

  it('a 2025 server answering 400 to initialize is not taken for HTTP+SSE: the IDE gets that 400, and the next initialize works', async () => {
    const gw = await gateway();
    gw.injectFaults([
      {
        status: 400,
        method: 'initialize',
        body: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: lab refuses this initialize' } }),
      },
    ]);
    const b = bridge([gw.url]);
    b.writeLine(INIT(1));
    const refused = await b.waitFor((m) => m.id === 1);
    const message = (refused.error as { message: string }).message;
    expect(message).toContain('HTTP 400');
    expect(message).toContain('lab refuses this initialize');
    expect(b.child.exitCode).toBeNull();

    b.writeLine(INIT(2));
    expect((await b.waitFor((m) => m.id === 2)).result).toMatchObject({ serverInfo: expect.any(Object) });
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'streamable' } } }));
    expect((await b.waitFor((m) => m.id === 3)).result).toMatchObject({ content: [{ text: 'streamable' }] });
    expect(b.stderr()).not.toContain('using the legacy HTTP+SSE transport');
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('a 400 carrying a modern error (-32022 with data.supported) never triggers the HTTP+SSE GET', async () => {
    const gw = await gateway();
    gw.injectFaults([
      {
        status: 400,
        method: 'initialize',
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          error: { code: -32022, message: 'Unsupported protocol version', data: { supported: ['2026-07-28'], requested: '2025-06-18' } },
        }),
      },
    ]);
    const b = bridge([gw.url]);
    b.writeLine(INIT(1));
    const refused = await b.waitFor((m) => m.id === 1);
    expect((refused.error as { message: string }).message).toContain('Unsupported protocol version');
    expect(gw.record.requests.filter((r) => r.method === 'GET')).toEqual([]);
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
  });
});

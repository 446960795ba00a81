import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { blobText } from '../../scripts/lab/gateway.js';
import { startGateway } from '../../scripts/lab/gateway.js';
import { startGateway2026, type Gateway2026 } from '../../scripts/lab/gateway2026.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

// A 2025 IDE (the SDK v1 client: initialize, session semantics) through the built bridge to the
// lab's 2026-07-28 gateway (the SDK v2 server, modern-only: it refuses initialize).

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function home(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keybridge-era-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway2026(opts: Parameters<typeof startGateway2026>[0] = {}): Promise<Gateway2026> {
  const gw = await startGateway2026(opts);
  cleanups.push(() => gw.close());
  return gw;
}

function bridge(args: string[], env: NodeJS.ProcessEnv): BridgeProcess {
  const b = spawnBridge(args, { env });
  cleanups.push(() => b.kill());
  return b;
}

async function ide(b: BridgeProcess, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'ide-2025', version: '1.0.0' }, { capabilities });
  if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'forty-two' } }));
  await client.connect(b.transport());
  cleanups.push(() => client.close());
  return client;
}

async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('2025 IDE → bridge → 2026-07-28 gateway (SDK v2 server)', () => {
  it('initializes from server/discover, lists and calls tools, relays 5 MiB intact and progress, with per-request _meta and headers, POST only', async () => {
    const gw = await gateway2026();
    const dir = home();
    const b = bridge([gw.url], { MCP_KEYBRIDGE_HOME: dir });
    const client = await ide(b);
    expect(client.getServerVersion()).toMatchObject({ name: 'keybridge-lab-gateway-2026' });
    expect(client.getInstructions()).toContain('2026-07-28 edition');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add', 'blob', 'slow', 'progress', 'route', 'confirm']));
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
    const size = 5 * 1024 * 1024;
    const res = (await client.callTool({ name: 'blob', arguments: { bytes: size } })) as { content: { text: string }[] };
    expect(res.content[0]!.text.length).toBe(size);
    expect(res.content[0]!.text === blobText(size)).toBe(true);
    const steps: number[] = [];
    await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => void steps.push(p.progress) });
    const lines = b.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress)).toEqual([1, 2, 3]);
    // A large answer after notifications (an SSE response, read in pieces) arrives intact too.
    const seen: number[] = [];
    const sized = (await client.callTool({ name: 'progress', arguments: { steps: 2, bytes: 300 * 1024 } }, undefined, { onprogress: (p) => void seen.push(p.progress) })) as { content: { text: string }[] };
    expect(seen).toEqual([1, 2]);
    expect(sized.content[0]!.text === blobText(300 * 1024)).toBe(true);

    // Every POST declared the version in _meta and in MCP-Protocol-Version, and named its method.
    const posted = gw.record.requests.filter((r) => r.method !== undefined);
    expect(posted.length).toBeGreaterThan(4);
    for (const r of posted) {
      expect(r.headers['mcp-protocol-version']).toBe('2026-07-28');
      expect(r.meta?.['io.modelcontextprotocol/protocolVersion']).toBe('2026-07-28');
      expect(r.headers['mcp-method']).toBe(r.method);
    }
    const call = posted.find((r) => r.method === 'tools/call')!;
    expect(call.headers['mcp-name']).toBe('add');
    expect(call.meta?.['io.modelcontextprotocol/clientInfo']).toEqual({ name: 'ide-2025', version: '1.0.0' });
    expect(posted.some((r) => r.method === 'initialize')).toBe(false);
    expect(new Set(gw.record.httpMethods)).toEqual(new Set(['POST']));
    await client.close();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
    expect(JSON.parse(readFileSync(path.join(dir, 'protocol-eras.json'), 'utf8'))[gw.url]).toMatchObject({ era: 'modern', version: '2026-07-28' });
  });

  it('turns an input_required round into an elicitation the IDE answers, and retries with requestState under a new id', async () => {
    const gw = await gateway2026();
    const b = bridge([gw.url], { MCP_KEYBRIDGE_HOME: home() });
    const client = await ide(b, { elicitation: {} });
    const out = (await client.callTool({ name: 'confirm', arguments: { question: 'the answer?' } })) as { content: { text: string }[] };
    expect(out.content[0]!.text).toBe('answered: forty-two (state asked:the answer?)');
    const calls = gw.record.requests.filter((r) => r.method === 'tools/call');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.id).not.toEqual(calls[1]!.id);
    // An input_required answer past 64 KiB (what is written to the IDE as it arrives) is still acted on, never relayed.
    const question = `${'q'.repeat(100 * 1024)}?`;
    const long = (await client.callTool({ name: 'confirm', arguments: { question } })) as { content: { text: string }[] };
    expect(long.content[0]!.text).toBe(`answered: forty-two (state asked:${question})`);
    expect(gw.record.requests.filter((r) => r.method === 'tools/call')).toHaveLength(4);
    expect(b.stdout()).not.toContain('input_required');
    // Without the elicitation capability the gateway's request cannot be served: the IDE gets an error, not a hang.
    const b2 = bridge([gw.url], { MCP_KEYBRIDGE_HOME: home() });
    const plain = await ide(b2);
    await expect(plain.callTool({ name: 'confirm', arguments: { question: 'q' } })).rejects.toThrow(/elicitation/);
  });

  it('mirrors x-mcp-header parameters, cancels by closing the stream, and pushes list changes through subscriptions/listen', async () => {
    const gw = await gateway2026();
    const b = bridge([gw.url], { MCP_KEYBRIDGE_HOME: home() });
    const client = await ide(b);
    let listChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged++;
    });
    await client.listTools();
    expect(await client.callTool({ name: 'route', arguments: { region: 'eu-west-1', text: 'x' } })).toMatchObject({
      content: [{ text: 'region header: eu-west-1' }],
    });
    expect(gw.record.requests.find((r) => r.method === 'tools/call')?.headers['mcp-param-region']).toBe('eu-west-1');

    const ac = new AbortController();
    const slow = client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { signal: ac.signal });
    await until('the slow call', () => gw.record.toolCalls.some((c) => c.name === 'slow'));
    ac.abort('user cancelled');
    await expect(slow).rejects.toThrow();
    await until('the gateway to see the cancellation', () => gw.record.cancelled.includes('slow'));

    await until('subscriptions/listen', () => gw.record.requests.some((r) => r.method === 'subscriptions/listen'));
    // The listen stream may still be opening on the gateway's side: push until the IDE hears it (bounded).
    for (let i = 0; i < 40 && listChanged === 0; i++) {
      gw.toolsChanged();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listChanged).toBeGreaterThanOrEqual(1);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('sends a static bearer token on every POST, and reports a refused one instead of guessing an era', async () => {
    const gw = await gateway2026({ auth: { mode: 'static', token: 'lab-2026-static-token-123456' } });
    const b = bridge([gw.url, '--bearer-env', 'LAB_TOKEN'], { MCP_KEYBRIDGE_HOME: home(), LAB_TOKEN: 'lab-2026-static-token-123456' });
    const client = await ide(b);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })).toMatchObject({ content: [{ text: 'ok' }] });
    expect(b.stderr()).not.toContain('lab-2026-static-token-123456');
    expect(gw.record.requests.length).toBeGreaterThan(0);
    // A wrong token: the 401 is not era evidence (no fallback to initialize, no HTTP+SSE): the IDE hears why.
    const wrong = bridge([gw.url, '--bearer-env', 'LAB_TOKEN'], { MCP_KEYBRIDGE_HOME: home(), LAB_TOKEN: 'not-the-lab-token-0000000000' });
    wrong.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
    const refused = await wrong.waitFor((m) => m.id === 1);
    expect((refused.error as { message: string }).message).toMatch(/401/);
    expect(gw.record.httpMethods.filter((m) => m !== 'POST')).toEqual([]);
  });
});

describe('the era is remembered per server', () => {
  it('a second start against a 2025 gateway sends no probe', async () => {
    const gw = await startGateway({ auth: { mode: 'none' } });
    cleanups.push(() => gw.close());
    const dir = home();
    for (let run = 0; run < 2; run++) {
      const b = bridge([gw.url], { MCP_KEYBRIDGE_HOME: dir });
      const client = await ide(b);
      await client.listTools();
      await client.close();
      expect(await b.exited).toBe(0);
    }
    expect(gw.record.rpc.filter((m) => m.method === 'server/discover')).toHaveLength(1);
    expect(gw.record.rpc.filter((m) => m.method === 'initialize')).toHaveLength(2);
  });
});

describe('a 2026-07-28 IDE (sends server/discover itself)', () => {
  it('is relayed as it speaks: the discover answer, then its own requests with the headers their bodies imply', async () => {
    const gw = await gateway2026();
    const b = bridge([gw.url], { MCP_KEYBRIDGE_HOME: home() });
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'ide-2026', version: '1' },
    };
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: meta } }));
    expect((await b.waitFor((m) => m.id === 'd')).result).toMatchObject({ supportedVersions: ['2026-07-28'] });
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } }));
    expect(((await b.waitFor((m) => m.id === 1)).result as { tools: unknown[] }).tools.length).toBeGreaterThan(3);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'route', arguments: { region: 'ap-1', text: 't' }, _meta: meta } }));
    expect((await b.waitFor((m) => m.id === 2)).result).toMatchObject({ content: [{ text: 'region header: ap-1' }] });
    // MRTR is the IDE's own business here: the input_required result reaches it as it is.
    const withElicitation = { ...meta, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'confirm', arguments: { question: 'q' }, _meta: withElicitation } }));
    expect((await b.waitFor((m) => m.id === 3)).result).toMatchObject({ resultType: 'input_required' });
    const call = gw.record.requests.find((r) => r.id === 2)!;
    expect(call.meta).toEqual(meta);
    expect(call.headers).toMatchObject({ 'mcp-method': 'tools/call', 'mcp-name': 'route', 'mcp-protocol-version': '2026-07-28' });
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });
});

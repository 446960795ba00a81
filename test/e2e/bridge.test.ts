import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { startGateway, blobText, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function gateway(opts: Parameters<typeof startGateway>[0] = {}): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' }, ...opts });
  cleanups.push(() => gw.close());
  return gw;
}

function bridge(args: string[]): BridgeProcess {
  const b = spawnBridge(args);
  cleanups.push(() => b.kill());
  return b;
}

async function connectClient(b: BridgeProcess, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1.0.0' }, { capabilities });
  await client.connect(b.transport());
  cleanups.push(() => client.close());
  return client;
}

const INIT = (id: unknown) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

describe('bridge over Streamable HTTP (built CLI, real SDK client, lab gateway)', () => {
  it('lists and calls tools, relays a 5 MB result intact, and writes only JSON-RPC to stdout', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    const client = await connectClient(b);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add', 'blob', 'slow', 'progress']));
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
    const size = 5 * 1024 * 1024;
    const res = (await client.callTool({ name: 'blob', arguments: { bytes: size } })) as { content: { text: string }[] };
    expect(res.content[0]!.text.length).toBe(size);
    expect(res.content[0]!.text === blobText(size)).toBe(true);
    await client.close();
    expect(await b.exited).toBe(0);
    // The session was ended with DELETE on stdin EOF.
    expect(gw.record.deletedSessions.length).toBe(1);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('relays progress and logging notifications, list_changed, and server-to-client sampling and elicitation', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    const client = new Client({ name: 'e2e', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
    const logs: unknown[] = [];
    let listChanged = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged++;
    });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `sampled: ${(req.params.messages[0]!.content as { text: string }).text}` },
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'forty-two' } }));
    await client.connect(b.transport());
    cleanups.push(() => client.close());

    // Progress is checked on the raw stdout: the SDK client handles notifications a microtask later
    // than responses, so when both arrive in one pipe read it drops progress whose request already ended.
    await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: () => {} });
    const lines = b.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    const answerAt = lines.findIndex((m) => m.result?.content?.[0]?.text === 'completed 3 steps');
    const progress = lines.slice(0, answerAt).filter((m) => m.method === 'notifications/progress');
    expect(progress.map((m) => m.params.progress)).toEqual([1, 2, 3]);
    expect(progress.every((m) => m.params.progressToken === lines[answerAt]!.id)).toBe(true);

    const sampled = (await client.callTool({ name: 'ask_sampling', arguments: { prompt: 'hello' } })) as { content: { text: string }[] };
    expect(sampled.content[0]!.text).toContain('sampled: hello');
    const elicited = (await client.callTool({ name: 'ask_elicitation', arguments: { message: 'answer?' } })) as { content: { text: string }[] };
    expect(elicited.content[0]!.text).toContain('forty-two');

    await client.callTool({ name: 'notify', arguments: { channel: 'request' } });
    await client.callTool({ name: 'notify', arguments: { channel: 'standalone' } });
    const deadline = Date.now() + 10_000;
    while ((logs.length < 2 || listChanged < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    expect(listChanged).toBeGreaterThanOrEqual(1);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('forwards cancellation to the gateway', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    const client = await connectClient(b);
    const ac = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 20_000 } }, undefined, { signal: ac.signal });
    const deadline = Date.now() + 10_000;
    while (!gw.record.toolCalls.some((c) => c.name === 'slow') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ac.abort('user cancelled');
    await expect(call).rejects.toThrow();
    while (gw.record.cancellations.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(gw.record.cancellations).toEqual([expect.objectContaining({ reason: 'user cancelled' })]);
    // No answer is sent for a request the IDE cancelled.
    await client.callTool({ name: 'echo', arguments: { text: 'after' } });
    const slowId = gw.record.cancellations[0]!.requestId;
    expect(b.messages.some((m) => (m as { id?: unknown }).id === slowId && 'error' in (m as object))).toBe(false);
  });

  it('keeps id 0 and string ids, answers malformed input with JSON-RPC errors and keeps running', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    b.writeLine(INIT(0));
    const init = await b.waitFor((m) => m.id === 0);
    expect(init.result).toBeDefined();
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    b.writeLine('this is not json');
    const parseError = await b.waitFor((m) => (m.error as { code?: number } | undefined)?.code === -32700);
    expect(parseError.id).toBeNull();
    b.writeLine(JSON.stringify({ jsonrpc: '1.0', id: 'bad', method: 'x' }));
    const invalid = await b.waitFor((m) => m.id === 'bad');
    expect((invalid.error as { code: number }).code).toBe(-32600);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 'call-ä', method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }));
    const echoed = await b.waitFor((m) => m.id === 'call-ä');
    expect(echoed.result).toMatchObject({ content: [{ text: 'x' }] });
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: '', method: 'tools/list' }));
    expect((await b.waitFor((m) => m.id === '')).result).toBeDefined();
    expect(b.stderr()).toContain('not JSON');
    b.child.stdin.end();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('answers an in-flight call with a JSON-RPC error when the gateway dies, and serves again once it is back', async () => {
    const gw = await gateway();
    const port = gw.port;
    const b = bridge([gw.url]);
    const client = await connectClient(b);
    const call = client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { timeout: 20_000 });
    const deadline = Date.now() + 10_000;
    while (!gw.record.toolCalls.some((c) => c.name === 'slow') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const killedAt = Date.now();
    await gw.close();
    await expect(call).rejects.toThrow(/mcp-keybridge/);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    // Same port, fresh gateway: the old session is unknown there (404) and the bridge re-initializes.
    const again = await gateway({ port });
    expect(await client.callTool({ name: 'echo', arguments: { text: 'back' } })).toMatchObject({ content: [{ text: 'back' }] });
    expect(again.record.toolCalls.map((c) => c.name)).toContain('echo');
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('exits non-zero with an actionable message when the gateway is unreachable at start', async () => {
    const gw = await gateway();
    const url = gw.url;
    await gw.close();
    const b = bridge([url]);
    b.writeLine(INIT(1));
    const answer = await b.waitFor((m) => m.id === 1);
    expect((answer.error as { message: string }).message).toMatch(/cannot reach the gateway/);
    expect(await b.exited).toBe(1);
    expect(b.stderr()).toMatch(/ECONNREFUSED.*is the gateway running/);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('closes the remote session and exits 0 on SIGTERM', async () => {
    const gw = await gateway();
    const b = bridge([gw.url]);
    const client = await connectClient(b);
    await client.listTools();
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(gw.record.deletedSessions.length).toBe(1);
  });

  it('sends static headers with ${VAR} expansion and never logs their values', async () => {
    const gw = await gateway({ auth: { mode: 'static', token: 'lab-static-token-123456' } });
    const b = spawnBridge([gw.url, '--header', 'Authorization: Bearer ${LAB_TOKEN}', '--header', 'X-Team: blue', '--debug'], {
      env: { LAB_TOKEN: 'lab-static-token-123456' },
    });
    cleanups.push(() => b.kill());
    const client = await connectClient(b);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })).toMatchObject({ content: [{ text: 'ok' }] });
    await client.close();
    await b.exited;
    expect(gw.record.requests.every((r) => r.authorization === 'Bearer lab-static-token-123456')).toBe(true);
    expect(b.stderr()).not.toContain('lab-static-token-123456');
    expect(b.stdout()).not.toContain('lab-static-token-123456');
  });
});

describe('bridge over the legacy HTTP+SSE transport', () => {
  it('falls back automatically and relays calls', async () => {
    const gw = await gateway({ legacySse: true });
    const b = bridge([gw.url, '--transport', 'auto']);
    const client = await connectClient(b);
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(3);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'legacy' } })).toMatchObject({ content: [{ text: 'legacy' }] });
    expect(b.stderr()).toContain('legacy HTTP+SSE');
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('refuses clearly with --transport streamable-http', async () => {
    const gw = await gateway({ legacySse: true });
    const b = bridge([gw.url, '--transport', 'streamable-http']);
    b.writeLine(INIT(7));
    const answer = await b.waitFor((m) => m.id === 7);
    expect((answer.error as { message: string }).message).toMatch(/--transport sse/);
  });
});

/**
 * The lab gateway on its own (no bridge): without auth, with a static token, speaking only legacy
 * HTTP+SSE. With OAuth, and the lab's lifecycle: lab.oauth.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { startLab, LAB_STATIC_TOKEN, type Lab } from '../../scripts/lab/lab.js';
import { blobText } from '../../scripts/lab/gateway.js';
import { connect, initializeBody, post, PROTOCOL_VERSION, readEvents, textOf } from './labClients.js';

describe('lab gateway without auth', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'none' });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('lists the tools and answers echo, add and a 1 MiB blob intact', async () => {
    const client = await connect(lab.gateway.url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['add', 'ask_elicitation', 'ask_sampling', 'blob', 'destructive_delete', 'echo', 'notify', 'progress', 'read_thing', 'slow', 'whoami'].sort(),
    );
    expect(tools.find((t) => t.name === 'destructive_delete')?.annotations?.destructiveHint).toBe(true);
    expect(tools.find((t) => t.name === 'read_thing')?.annotations?.readOnlyHint).toBe(true);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo' } }))).toBe('héllo');
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
    const blob = textOf(await client.callTool({ name: 'blob', arguments: { bytes: 1024 * 1024 } }));
    expect(blob.length).toBe(1024 * 1024);
    expect(blob === blobText(1024 * 1024)).toBe(true);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('{}');
    expect(lab.gateway.record.toolCalls.map((c) => c.name)).toContain('blob');
    await client.close();
  });

  it('sends progress, relays sampling and elicitation, and emits notifications', async () => {
    const client = await connect(lab.gateway.url, {}, { sampling: {}, elicitation: { form: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const content = req.params.messages[0]?.content;
      const prompt = content && !Array.isArray(content) && content.type === 'text' ? content.text : '';
      return { role: 'assistant', model: 'lab', content: { type: 'text', text: `sampled: ${prompt}` } };
    });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'yes' } }));
    const logs: unknown[] = [];
    let listChanged = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged += 1;
    });

    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1, 2, 3]);
    expect(textOf(await client.callTool({ name: 'ask_sampling', arguments: { prompt: 'hi' } }))).toBe('sampled: hi');
    expect(JSON.parse(textOf(await client.callTool({ name: 'ask_elicitation', arguments: { message: 'ok?' } })))).toEqual({
      action: 'accept',
      content: { answer: 'yes' },
    });
    expect(textOf(await client.callTool({ name: 'notify', arguments: {} }))).toBe('ok');
    expect(logs).toEqual(['hello from the lab gateway']);
    expect(listChanged).toBe(1);
    await client.close();
  });

  it('records a cancelled slow call and a deleted session', async () => {
    const client = await connect(lab.gateway.url);
    const controller = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { signal: controller.signal });
    await expect.poll(() => lab.gateway.record.toolCalls.some((c) => c.name === 'slow'), { timeout: 3000 }).toBe(true);
    controller.abort('user gave up');
    await expect(call).rejects.toThrow();
    await expect.poll(() => lab.gateway.record.cancellations.length, { timeout: 3000 }).toBe(1);
    expect(lab.gateway.record.cancellations[0]?.reason).toBe('user gave up');
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    expect(lab.gateway.record.deletedSessions).toContain(sessionId);
    await client.close();
  });

  it('replays missed events after Last-Event-ID', async () => {
    const url = lab.gateway.url;
    const init = await post(url, initializeBody());
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(sessionId).toBeTruthy();
    await readEvents(init, 1);
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION };
    expect((await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers)).status).toBe(202);
    const call = await post(
      url,
      JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'progress', arguments: { steps: 3 }, _meta: { progressToken: 'p' } } }),
      headers,
    );
    const all = await readEvents(call, 4);
    expect(all).toHaveLength(4);
    const resumed = await fetch(url, {
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': all[0]!.id! },
      signal: AbortSignal.timeout(5000),
    });
    expect(resumed.status).toBe(200);
    const replayed = await readEvents(resumed, 3);
    expect(replayed.map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id));
    expect(lab.gateway.record.requests.some((r) => r.lastEventId === all[0]!.id)).toBe(true);
  });
});

describe('lab gateway with a static token', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'static' });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('answers 401 without the token and serves the client with it', async () => {
    const refused = await post(lab.gateway.url, initializeBody());
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await post(lab.gateway.url, initializeBody(), { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const client = await connect(lab.gateway.url, { Authorization: `Bearer ${LAB_STATIC_TOKEN}` });
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('x');
    await client.close();
    expect(lab.gateway.record.requests.some((r) => r.status === 200 && r.authorization === `Bearer ${LAB_STATIC_TOKEN}`)).toBe(true);
  });
});

describe('lab gateway speaking only legacy HTTP+SSE', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'none', legacySse: true });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('refuses Streamable HTTP and serves the SSE client on the same URL', async () => {
    expect((await post(lab.gateway.url, initializeBody())).status).toBe(405);
    const client = new Client({ name: 'lab-test', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(lab.gateway.url)));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'old' } }))).toBe('old');
    await client.close();
  });
});

/**
 * What the lab's own tests share: an SDK client connected to the lab gateway, a raw initialize, a
 * loopback stand-in for the CLI's OAuth callback, and an SSE reader.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export const PROTOCOL_VERSION = '2025-06-18';

export function textOf(result: unknown): string {
  const content = (result as CallToolResult).content[0];
  if (!content || content.type !== 'text') throw new Error('expected text content');
  return content.text;
}

export async function connect(url: string, headers: Record<string, string> = {}, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'lab-test', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

export function initializeBody(id: number | string = 0): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
}

export function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    signal: AbortSignal.timeout(5000),
  });
}

/** A tiny loopback server standing in for the CLI's OAuth callback listener. */
export async function startCallbackServer(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in, you can close this tab');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Read SSE events from a response until `count` arrived, then stop reading. */
export async function readEvents(res: Response, count: number): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  while (events.filter((e) => e.data).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  await reader.cancel();
  return events.filter((e) => e.data);
}

import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { GatewayRecord } from './gateway.js';

const BLOB_PATTERN = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const MAX_SLOW_MS = 120_000;
const MAX_PROGRESS_STEPS = 10_000;
const MAX_BLOB_BYTES = 64 * 1024 * 1024;
const CLIENT_REQUEST_TIMEOUT_MS = 60_000;

/** The deterministic text the `blob` tool returns, so tests can check it arrived intact. */
export function blobText(bytes: number): string {
  const repeats = Math.ceil(bytes / BLOB_PATTERN.length);
  return BLOB_PATTERN.repeat(repeats).slice(0, bytes);
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

function subjectOf(authInfo: AuthInfo | undefined): string | undefined {
  const sub = authInfo?.extra?.sub;
  return typeof sub === 'string' ? sub : undefined;
}

/** Build one MCP server (one per session: an McpServer serves a single transport) with the lab tools. */
export function createLabMcpServer(record: GatewayRecord): McpServer {
  const server = new McpServer(
    { name: 'keybridge-lab-gateway', version: '1.0.0' },
    { capabilities: { logging: {}, tools: { listChanged: true } } },
  );
  const note = (name: string, args: unknown, authInfo: AuthInfo | undefined): void => {
    record.toolCalls.push({ name, args, subject: subjectOf(authInfo) });
  };

  server.registerTool(
    'echo',
    { description: 'Returns the text it was given', inputSchema: { text: z.string() } },
    async (args, extra) => {
      note('echo', args, extra.authInfo);
      return text(args.text);
    },
  );

  server.registerTool(
    'add',
    { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async (args, extra) => {
      note('add', args, extra.authInfo);
      return text(String(args.a + args.b));
    },
  );

  server.registerTool(
    'blob',
    {
      description: 'Returns one text content of exactly `bytes` ASCII characters (see blobText)',
      inputSchema: { bytes: z.number().int().min(0).max(MAX_BLOB_BYTES) },
    },
    async (args, extra) => {
      note('blob', args, extra.authInfo);
      return text(blobText(args.bytes));
    },
  );

  server.registerTool(
    'slow',
    { description: 'Sleeps `ms` then answers "done"; honours cancellation', inputSchema: { ms: z.number().int().min(0).max(MAX_SLOW_MS) } },
    async (args, extra) => {
      note('slow', args, extra.authInfo);
      const { signal } = extra;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, args.ms);
        signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      if (signal.aborted) {
        const reason: unknown = signal.reason;
        record.cancellations.push({ requestId: extra.requestId, reason: typeof reason === 'string' ? reason : undefined });
        return text('cancelled');
      }
      return text('done');
    },
  );

  server.registerTool(
    'progress',
    { description: 'Sends `steps` progress notifications to the request progressToken, then answers', inputSchema: { steps: z.number().int().min(0).max(MAX_PROGRESS_STEPS) } },
    async (args, extra) => {
      note('progress', args, extra.authInfo);
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        for (let step = 1; step <= args.steps; step += 1) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: args.steps, message: `step ${step}` },
          });
        }
      }
      return text(`completed ${args.steps} steps`);
    },
  );

  server.registerTool(
    'ask_sampling',
    { description: 'Asks the client to sample (sampling/createMessage) and returns its text', inputSchema: { prompt: z.string() } },
    async (args, extra) => {
      note('ask_sampling', args, extra.authInfo);
      const result = await server.server.createMessage(
        { messages: [{ role: 'user', content: { type: 'text', text: args.prompt } }], maxTokens: 256 },
        { relatedRequestId: extra.requestId, signal: extra.signal, timeout: CLIENT_REQUEST_TIMEOUT_MS },
      );
      const first = Array.isArray(result.content) ? result.content[0] : result.content;
      return text(first && first.type === 'text' ? first.text : JSON.stringify(result.content));
    },
  );

  server.registerTool(
    'ask_elicitation',
    { description: 'Asks the client for input (elicitation/create) and returns the result as JSON', inputSchema: { message: z.string() } },
    async (args, extra) => {
      note('ask_elicitation', args, extra.authInfo);
      const result = await server.server.elicitInput(
        {
          message: args.message,
          requestedSchema: { type: 'object', properties: { answer: { type: 'string', title: 'Answer' } } },
        },
        { relatedRequestId: extra.requestId, signal: extra.signal, timeout: CLIENT_REQUEST_TIMEOUT_MS },
      );
      return text(JSON.stringify(result));
    },
  );

  server.registerTool(
    'notify',
    {
      description:
        'Sends notifications/message (logging) and notifications/tools/list_changed, then answers "ok". ' +
        'channel "request" (default) sends them on this request\'s stream; "standalone" on the GET SSE stream.',
      inputSchema: { channel: z.enum(['request', 'standalone']).optional() },
    },
    async (args, extra) => {
      note('notify', args, extra.authInfo);
      if (args.channel === 'standalone') {
        await server.server.sendLoggingMessage({ level: 'info', logger: 'lab', data: 'hello from the lab gateway' });
        await server.server.sendToolListChanged();
      } else {
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'lab', data: 'hello from the lab gateway' } });
        await extra.sendNotification({ method: 'notifications/tools/list_changed' });
      }
      return text('ok');
    },
  );

  server.registerTool(
    'whoami',
    { description: 'Returns {sub, scope, aud, token_kind} of the validated token ({} without OAuth)', inputSchema: {} },
    async (args, extra) => {
      note('whoami', args, extra.authInfo);
      const claims = extra.authInfo?.extra ?? {};
      const summary = Object.fromEntries(
        ['sub', 'scope', 'aud', 'token_kind'].filter((k) => claims[k] !== undefined).map((k) => [k, claims[k]]),
      );
      return text(JSON.stringify(summary));
    },
  );

  server.registerTool(
    'destructive_delete',
    { description: 'Pretends to delete something (for policy tests)', inputSchema: {}, annotations: { destructiveHint: true, readOnlyHint: false } },
    async (args, extra) => {
      note('destructive_delete', args, extra.authInfo);
      return text('deleted');
    },
  );

  server.registerTool(
    'read_thing',
    { description: 'Pretends to read something (for policy tests)', inputSchema: {}, annotations: { readOnlyHint: true } },
    async (args, extra) => {
      note('read_thing', args, extra.authInfo);
      return text('thing');
    },
  );

  return server;
}

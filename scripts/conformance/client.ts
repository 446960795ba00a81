#!/usr/bin/env node
/**
 * The `<cmd>` the official conformance CLI runs for each client scenario:
 *   node dist/scripts/conformance/client.js <server-url>
 *
 * mcp-keybridge is a stdio MCP server, so this is what an IDE would be: a real MCP SDK client that
 * spawns the built CLI with the flags a user would type for that server, lists the tools and calls
 * one. Credentials and keys the scenario hands over in MCP_CONFORMANCE_CONTEXT become flags the
 * way a user would pass them (secrets through environment variables, keys through files); the
 * sign-in page is completed by a browser stand-in that follows the authorization server's
 * redirects back to the loopback callback. Exit 0 when the tool call succeeded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { bridgeInvocation } from './scenarioFlags.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../../bin/mcp-keybridge.js');
const BROWSER = path.resolve(here, 'redirectBrowser.js');

/** Arguments for a tool call, made from its input schema the way a model would fill it in. */
export function argumentsFor(schema: unknown): Record<string, unknown> {
  const s = (schema ?? {}) as { properties?: Record<string, { type?: string }>; required?: string[] };
  const out: Record<string, unknown> = {};
  let n = 2;
  for (const name of s.required ?? []) {
    const type = s.properties?.[name]?.type;
    if (type === 'number' || type === 'integer') out[name] = n++;
    else if (type === 'boolean') out[name] = true;
    else if (type === 'array') out[name] = [];
    else if (type === 'object') out[name] = {};
    else out[name] = 'test';
  }
  return out;
}

/**
 * What the person at the IDE does once the server is connected. Most scenarios: list the tools and
 * call the first one. A few scenarios state a different contract for the user's side (as the suite's
 * reference client follows it): list only, or pass one tool's schema to another. This chooses what
 * the *IDE* sends; the bridge in between is never told the scenario.
 */
async function actAsTheUser(client: Client, scenario: string): Promise<void> {
  const { tools } = await client.listTools();
  if (scenario === 'json-schema-ref-no-deref') return;
  if (scenario === 'json-schema-2020-12-preservation') {
    const focal = tools.find((t) => t.name === 'json_schema_2020_12_tool');
    if (!focal) throw new Error('json_schema_2020_12_tool not listed');
    await client.callTool({ name: 'json_schema_echo', arguments: { schema: focal.inputSchema } });
    return;
  }
  // A scenario that states which calls the user asks for (MCP_CONFORMANCE_CONTEXT.toolCalls): those.
  const asked = requestedToolCalls(process.env.MCP_CONFORMANCE_CONTEXT);
  if (asked) {
    for (const call of asked.slice(0, 20)) await client.callTool(call);
    return;
  }
  // Every listed tool once (bounded), as a user trying each of them would.
  for (const tool of tools.slice(0, 20)) {
    try {
      const result = await client.callTool({ name: tool.name, arguments: argumentsFor(tool.inputSchema) });
      if (result.isError) process.stderr.write(`conformance client: ${tool.name} answered isError\n`);
    } catch (error) {
      // A server that does not serve tools/call answers -32601; the bridge relayed that faithfully.
      if (error instanceof McpError && error.code === ErrorCode.MethodNotFound) continue;
      throw error;
    }
  }
}

/** The tool calls a scenario's context asks for, if it names any. */
function requestedToolCalls(raw: string | undefined): { name: string; arguments: Record<string, unknown> }[] | undefined {
  if (!raw) return undefined;
  const calls = (JSON.parse(raw) as { toolCalls?: unknown }).toolCalls;
  if (!Array.isArray(calls)) return undefined;
  return calls.filter((c): c is { name: string; arguments: Record<string, unknown> } => typeof c?.name === 'string');
}

async function run(serverUrl: string): Promise<void> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keybridge-conformance-'));
  try {
    const invocation = bridgeInvocation(serverUrl, process.env.MCP_CONFORMANCE_CONTEXT, (name, text) => {
      const file = path.join(scratch, name);
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, invocation.env, {
      MCP_KEYBRIDGE_HOME: path.join(scratch, 'home'),
      BROWSER: `${process.execPath} ${BROWSER}`,
    });
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, ...invocation.args], env, stderr: 'inherit' });
    const client = new Client({ name: 'keybridge-conformance-ide', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    // An IDE that shows the form and the user accepts the defaults it offers.
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      const props = (req.params as { requestedSchema?: { properties?: Record<string, { default?: unknown }> } }).requestedSchema?.properties ?? {};
      const content: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(props)) if (p.default !== undefined) content[k] = p.default;
      return { action: 'accept', content } as never;
    });
    await client.connect(transport);
    try {
      await actAsTheUser(client, process.env.MCP_CONFORMANCE_SCENARIO ?? '');
    } finally {
      await client.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: client.js <server-url>\n');
  process.exitCode = 2;
} else {
  run(url).then(
    () => process.stderr.write('conformance client: tool listed and called through the bridge\n'),
    (error: unknown) => {
      process.stderr.write(`conformance client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

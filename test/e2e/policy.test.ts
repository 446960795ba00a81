import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function setup(args: string[]): Promise<{ gw: Gateway; b: BridgeProcess; client: Client }> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  // A private config directory: budgets are counted in a file under its lock directory.
  const home = await mkdtemp(join(tmpdir(), 'kb-policy-home-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  const b = spawnBridge([gw.url, ...args], { env: { MCP_KEYBRIDGE_HOME: home } });
  cleanups.push(() => b.kill());
  const client = new Client({ name: 'policy-e2e', version: '1.0.0' });
  await client.connect(b.transport());
  cleanups.push(() => client.close());
  return { gw, b, client };
}

describe('tool policy at the bridge', () => {
  it('deny wins over allow: refused tools vanish from tools/list and a call never reaches the gateway', async () => {
    const { gw, b, client } = await setup(['--allow-tool', '*', '--deny-tool', 'destructive_*', '--deny-tool', 'ad?']);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).not.toContain('destructive_delete');
    expect(names).not.toContain('add');
    await expect(client.callTool({ name: 'destructive_delete', arguments: {} })).rejects.toThrow(/--deny-tool destructive_\*/);
    await expect(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).rejects.toThrow(/refused/);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'fine' } })).toMatchObject({ content: [{ text: 'fine' }] });
    // The gateway's own record: the refused tools were never called there.
    expect(gw.record.toolCalls.map((c) => c.name)).toEqual(['echo']);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('--read-only keeps only tools annotated read-only', async () => {
    const { gw, client } = await setup(['--read-only']);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['read_thing']);
    await expect(client.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow(/--read-only/);
    await client.callTool({ name: 'read_thing', arguments: {} });
    expect(gw.record.toolCalls.map((c) => c.name)).toEqual(['read_thing']);
  });

  it('answers over-budget calls with an error instead of forwarding them', async () => {
    const { gw, client } = await setup(['--max-calls-per-minute', 'echo=2']);
    await client.callTool({ name: 'echo', arguments: { text: '1' } });
    await client.callTool({ name: 'echo', arguments: { text: '2' } });
    await expect(client.callTool({ name: 'echo', arguments: { text: '3' } })).rejects.toThrow(/call budget/);
    await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    expect(gw.record.toolCalls.filter((c) => c.name === 'echo').length).toBe(2);
  });

  it('writes one audit line per call with a hash of the arguments and never their values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kb-audit-'));
    const file = join(dir, 'audit.jsonl');
    const { b, client } = await setup(['--audit-log', file, '--deny-tool', 'add', '--max-calls-per-minute', 'slow=1']);
    await client.listTools();
    await client.callTool({ name: 'echo', arguments: { text: 'very-secret-argument-value' } });
    await expect(client.callTool({ name: 'add', arguments: { a: 31337, b: 1 } })).rejects.toThrow();
    await client.callTool({ name: 'slow', arguments: { ms: 1 } });
    await expect(client.callTool({ name: 'slow', arguments: { ms: 1 } })).rejects.toThrow();
    await client.close();
    expect(await b.exited).toBe(0);
    const text = await readFile(file, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.tool, l.outcome])).toEqual([
      ['echo', 'ok'],
      ['add', 'refused-by-policy'],
      ['slow', 'ok'],
      ['slow', 'rate-limited'],
    ]);
    for (const l of lines) {
      expect(l.argsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof l.durationMs).toBe('number');
      expect(l.server).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    }
    expect(text).not.toContain('very-secret-argument-value');
    expect(text).not.toContain('31337');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

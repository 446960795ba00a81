/**
 * Budgets by kind of action, shared by a user's bridges; alerts on refusals; the policy file.
 * The BUILT CLI under real SDK clients against the lab gateway on 127.0.0.1; what ran is read
 * from the gateway's own record.
 *
 *   npm run build && bash scripts/with-keyring.sh npx vitest run test/e2e/budgets.test.ts
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { BIN, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kb-budgets-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function gateway(): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  return gw;
}

async function connect(gw: Gateway, home: string, args: string[]): Promise<{ b: BridgeProcess; client: Client }> {
  const b = spawnBridge([gw.url, ...args], { env: { MCP_KEYBRIDGE_HOME: home } });
  cleanups.push(() => b.kill());
  const client = new Client({ name: 'budgets-e2e', version: '1.0.0' });
  await client.connect(b.transport());
  cleanups.push(() => client.close());
  return { b, client };
}

type RpcError = { code?: number; message: string; data?: Record<string, unknown> };
const refusal = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('the call was not refused');
    },
    (e: unknown) => e as RpcError,
  );
const calls = (gw: Gateway, name: string) => gw.record.toolCalls.filter((c) => c.name === name).length;

describe('budgets by kind of action', () => {
  it('counts reads and writes separately, refuses with -32004 saying when to retry', async () => {
    const gw = await gateway();
    const { client } = await connect(gw, await tempDir(), ['--budget', 'read=2/1h', '--budget', 'write=1/1h']);
    await client.listTools();
    await client.callTool({ name: 'read_thing', arguments: {} });
    await client.callTool({ name: 'read_thing', arguments: {} });
    const read = await refusal(client.callTool({ name: 'read_thing', arguments: {} }));
    expect(read.code).toBe(-32004);
    expect(read.message).toMatch(/over its call budget \(--budget read=2\/1h: 2 per 1h.*\); retry in (\d+ h|(\d+ min )?\d+ s), after \d{4}-\d\d-\d\dT/);
    expect(read.data).toMatchObject({ reason: 'rate_limited', rule: '--budget read=2/1h' });
    expect(read.data!.retryAfterSeconds).toBeGreaterThan(3000);
    expect(read.data!.retryAfterSeconds).toBeLessThanOrEqual(3600);
    // the read budget is spent, the write budget is not
    await client.callTool({ name: 'echo', arguments: { text: 'one write' } });
    const write = await refusal(client.callTool({ name: 'destructive_delete', arguments: {} }));
    expect(write.data).toMatchObject({ rule: '--budget write=1/1h' });
    expect(calls(gw, 'read_thing')).toBe(2);
    expect(calls(gw, 'echo')).toBe(1);
    expect(calls(gw, 'destructive_delete')).toBe(0);
  });

  it('five bridges of one profile draw on one budget', async () => {
    const gw = await gateway();
    const home = await tempDir();
    const bridges = await Promise.all(Array.from({ length: 5 }, () => connect(gw, home, ['--budget', 'write=3/1h'])));
    const results = await Promise.allSettled(
      bridges.flatMap(({ client }, i) => [0, 1].map((j) => client.callTool({ name: 'echo', arguments: { text: `${i}.${j}` } }))),
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(refused).toHaveLength(7);
    for (const r of refused) expect((r.reason as RpcError).code).toBe(-32004);
    expect(calls(gw, 'echo')).toBe(3);
  });

  it('--max-calls-per-minute stays a shorthand for a one-minute budget', async () => {
    const gw = await gateway();
    const { client } = await connect(gw, await tempDir(), ['--max-calls-per-minute', 'echo=2']);
    await client.callTool({ name: 'echo', arguments: { text: '1' } });
    await client.callTool({ name: 'echo', arguments: { text: '2' } });
    const err = await refusal(client.callTool({ name: 'echo', arguments: { text: '3' } }));
    expect(err.message).toMatch(/call budget \(--max-calls-per-minute echo=2: 2 per 1m/);
    await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    expect(calls(gw, 'echo')).toBe(2);
  });
});

describe('alerts', () => {
  it('the alert command gets one event when refusals cross the threshold, and none below it', async () => {
    const gw = await gateway();
    const dir = await tempDir();
    const script = join(dir, 'alert-sink.mjs');
    await writeFile(script, "import { appendFileSync } from 'node:fs';\nlet s = '';\nprocess.stdin.on('data', (b) => (s += b));\nprocess.stdin.on('end', () => appendFileSync(process.argv[2], s));\n");
    const out = join(dir, 'alerts.jsonl');
    const audit = join(dir, 'audit.jsonl');
    const args = ['--deny-tool', 'add', '--alert-on', 'refused=3/1h', '--alert-command', `${process.execPath} ${script} ${out}`, '--audit-log', audit];

    const below = await connect(gw, dir, args);
    for (let i = 0; i < 2; i++) await refusal(below.client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
    await below.client.close();
    expect(await below.b.exited).toBe(0);
    expect(existsSync(out)).toBe(false);

    const above = await connect(gw, dir, args);
    for (let i = 0; i < 5; i++) await refusal(above.client.callTool({ name: 'add', arguments: { a: 31337, b: 2 } }));
    await above.client.callTool({ name: 'echo', arguments: { text: 'still serving' } });
    await above.client.close();
    // the bridge waits (bounded) for the alert command before it exits
    expect(await above.b.exited).toBe(0);
    const events = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event: 'alert',
      source: 'mcp-keybridge',
      kind: 'refused',
      threshold: 'refused=3/1h',
      count: 3,
      windowSeconds: 3600,
      server: gw.url,
      subject: null,
      tools: { add: 3 },
      reasons: { '--deny-tool add': 3 },
    });
    expect(JSON.stringify(events)).not.toContain('31337');
    const auditLines = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(auditLines.filter((l) => l.event === 'alert')).toEqual([expect.objectContaining({ kind: 'refused', count: 3, threshold: 'refused=3/1h' })]);
    expect(calls(gw, 'add')).toBe(0);
  });
});

describe('the policy file', () => {
  it('applies the file, the flags add to it, and doctor prints the effective policy', async () => {
    const gw = await gateway();
    const dir = await tempDir();
    const file = join(dir, 'policy.json');
    await writeFile(
      file,
      `// shipped by the security team
{
  "version": 1,
  "tools": { "deny": ["destructive_*"] },
  "budgets": { "echo": "1/1h" }, // one echo an hour
}
`,
    );
    const { client } = await connect(gw, dir, ['--policy', file, '--deny-tool', 'add']);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('destructive_delete');
    expect(names).not.toContain('add');
    await client.callTool({ name: 'echo', arguments: { text: '1' } });
    const err = await refusal(client.callTool({ name: 'echo', arguments: { text: '2' } }));
    expect(err.message).toContain(`echo=1/1h (${file} line 5)`);
    expect(calls(gw, 'echo')).toBe(1);

    const doctor = await run(['doctor', gw.url, '--policy', file, '--confirm-destructive', '--token-store', 'memory'], dir);
    expect(doctor.stdout).toContain(`policy (from ${file} + flags):`);
    expect(doctor.stdout).toContain('deny tools: destructive_*');
    expect(doctor.stdout).toContain('ask first: tools annotated destructiveHint: true (answer within 120 s; an accept is for one call)');
    expect(doctor.stdout).toContain("budgets (per user and server, shared by this machine's bridges): echo 1 per 1h");
  });

  it('a mistake in the file stops the bridge with the file and line named', async () => {
    const gw = await gateway();
    const dir = await tempDir();
    const file = join(dir, 'policy.json');
    await writeFile(file, '{\n  "version": 1,\n  "budgets": { "write": "ten per minute" }\n}\n');
    const b = spawnBridge([gw.url, '--policy', file], { env: { MCP_KEYBRIDGE_HOME: dir } });
    cleanups.push(() => b.kill());
    expect(await b.exited).not.toBe(0);
    expect(b.stderr()).toContain(`${file} line 3: "budgets.write": expected N/WINDOW`);
    expect(b.stdout()).toBe('');
  });
});

function run(args: string[], home: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, MCP_KEYBRIDGE_HOME: home }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

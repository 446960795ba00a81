/**
 * Ask before dangerous calls: the BUILT CLI under a real SDK client that declares the elicitation
 * capability and answers elicitation/create, against the lab gateway on 127.0.0.1. What the
 * gateway ran is read from its own record.
 *
 *   npm run build && bash scripts/with-keyring.sh npx vitest run test/e2e/approvals.test.ts
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';
import { startBridge, startOAuthLab, workspace, type Cleanup } from './harness/signinWorkspace.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

type Answer = (params: ElicitRequest['params'], signal: AbortSignal) => Promise<ElicitResult>;

/** An SDK client that (optionally) declares elicitation and answers every question with `answer`. */
function elicitingClient(answer: Answer | undefined): { client: Client; questions: ElicitRequest['params'][]; abandoned: number[] } {
  const questions: ElicitRequest['params'][] = [];
  const abandoned: number[] = [];
  const client = new Client({ name: 'approvals-e2e', version: '1.0.0' }, { capabilities: answer ? { elicitation: { form: {} } } : {} });
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, async (req, extra) => {
      questions.push(req.params);
      extra.signal.addEventListener('abort', () => abandoned.push(questions.length), { once: true });
      return answer(req.params, extra.signal);
    });
  }
  cleanups.push(() => client.close());
  return { client, questions, abandoned };
}

async function home(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kb-approvals-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function bridge(args: string[], answer: Answer | undefined): Promise<{ gw: Gateway; b: BridgeProcess } & ReturnType<typeof elicitingClient>> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  const dir = await home();
  const b = spawnBridge([gw.url, ...args], { env: { MCP_KEYBRIDGE_HOME: dir } });
  cleanups.push(() => b.kill());
  const c = elicitingClient(answer);
  await c.client.connect(b.transport());
  return { gw, b, ...c };
}

const accept: Answer = async () => ({ action: 'accept', content: {} });
const decline: Answer = async () => ({ action: 'decline' });
/** Never answers; resolves only when the bridge gives up on the question (its cancellation). */
const neverAnswer: Answer = (_p, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ action: 'cancel' }), { once: true }));

const calls = (gw: Gateway, name: string) => gw.record.toolCalls.filter((c) => c.name === name).length;

describe('approvals through MCP elicitation', () => {
  it('an accept forwards the call once; a call no rule concerns is never asked about; the audit log has the question and the answer', async () => {
    const auditFile = join(await home(), 'audit.jsonl');
    const { gw, b, client, questions } = await bridge(['--confirm-tool', 'ad?', '--audit-log', auditFile], accept);
    expect(await client.callTool({ name: 'echo', arguments: { text: 'not asked' } })).toMatchObject({ content: [{ text: 'not asked' }] });
    expect(questions).toHaveLength(0);
    expect(await client.callTool({ name: 'add', arguments: { a: 31337, b: 2 } })).toMatchObject({ content: [{ text: '31339' }] });
    expect(questions).toHaveLength(1);
    const q = questions[0]!;
    expect(q.mode).toBe('form');
    expect(q.message).toContain('"add"');
    expect(q.message).toContain(gw.url);
    expect(q.message).toContain('a: 31337, b: 2');
    expect(q.message).toContain('--confirm-tool ad?');
    expect(q.message).toMatch(/Signed in as: \(no signed-in user\)/);
    expect(calls(gw, 'add')).toBe(1);
    await client.close();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const asked = lines.find((l) => l.event === 'approval-asked');
    const answered = lines.find((l) => l.event === 'approval-answered');
    expect(asked).toMatchObject({ tool: 'add', rule: '--confirm-tool ad?', server: gw.url });
    expect(answered).toMatchObject({ tool: 'add', answer: 'accept', question: asked!.question });
    expect(asked!.argsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lines.filter((l) => l.outcome !== undefined).map((l) => [l.tool, l.outcome])).toEqual([['echo', 'ok'], ['add', 'ok']]);
    expect(JSON.stringify(lines)).not.toContain('31337');
  });

  it('a decline refuses the call with -32003 naming the rule, and the gateway never sees it', async () => {
    const { gw, client, questions } = await bridge(['--confirm-destructive'], decline);
    await client.listTools();
    const err = await client.callTool({ name: 'destructive_delete', arguments: {} }).catch((e: unknown) => e as { code?: number; message: string });
    expect(err).toMatchObject({ code: -32003 });
    expect((err as Error).message).toMatch(/declined \(--confirm-destructive \(annotated destructiveHint: true\) asks first\)/);
    expect(questions).toHaveLength(1);
    // read_thing is not destructive: not asked, forwarded
    await client.callTool({ name: 'read_thing', arguments: {} });
    expect(questions).toHaveLength(1);
    expect(calls(gw, 'destructive_delete')).toBe(0);
    expect(calls(gw, 'read_thing')).toBe(1);
  });

  it('an unanswered question times out (--confirm-timeout), is cancelled at the IDE, and the call never reaches the gateway', async () => {
    const { gw, b, client, questions, abandoned } = await bridge(['--confirm-writes', '--confirm-timeout', '1'], neverAnswer);
    await client.listTools();
    const err = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e as { code?: number; message: string });
    expect(err).toMatchObject({ code: -32003 });
    expect((err as Error).message).toMatch(/not answered within 1 s \(--confirm-timeout; --confirm-writes/);
    expect(questions).toHaveLength(1);
    expect(abandoned).toEqual([1]);
    expect(calls(gw, 'echo')).toBe(0);
    // the bridge still serves: a read-only tool is not asked about
    expect(await client.callTool({ name: 'read_thing', arguments: {} })).toMatchObject({ content: [{ text: 'thing' }] });
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('an IDE that did not declare elicitation gets the refusal; nothing is asked and nothing forwarded', async () => {
    const { gw, b, client } = await bridge(['--confirm-tool', 'echo'], undefined);
    const err = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e as { code?: number; message: string });
    expect(err).toMatchObject({ code: -32003 });
    expect((err as Error).message).toMatch(/did not declare the MCP elicitation capability/);
    expect(calls(gw, 'echo')).toBe(0);
    expect(b.messages.some((m) => (m as { method?: string }).method === 'elicitation/create')).toBe(false);
  });

  it('--remember-approval session asks once per tool for the rest of the process', async () => {
    const { gw, client, questions } = await bridge(['--confirm-tool', '*_delete', '--confirm-tool', 'add', '--remember-approval', 'session'], accept);
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'destructive_delete', arguments: {} });
    await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } });
    expect(questions.map((q) => q.message.split('\n')[0])).toEqual(['Allow the tool "destructive_delete" on ' + gw.url + '?', 'Allow the tool "add" on ' + gw.url + '?']);
    expect(calls(gw, 'destructive_delete')).toBe(3);
    expect(calls(gw, 'add')).toBe(2);
  });

  it('without --remember-approval every call is asked about', async () => {
    const { gw, client, questions } = await bridge(['--confirm-tool', 'echo'], accept);
    await client.callTool({ name: 'echo', arguments: { text: '1' } });
    await client.callTool({ name: 'echo', arguments: { text: '2' } });
    expect(questions).toHaveLength(2);
    expect(calls(gw, 'echo')).toBe(2);
  });
});

const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);

describe.skipIf(!hasSessionBus)('approvals name the signed-in user', () => {
  it('the question says who is signed in (the lab identity provider, the real keychain)', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const b = startBridge(cleanups, [lab.gateway.url, '--scope', 'openid email mcp:tools', '--confirm-tool', 'echo'], ws);
    const c = elicitingClient(accept);
    await c.client.connect(b.transport()).catch((e: Error) => { throw new Error(`${e.message}\n${b.stderr()}`); });
    expect(await c.client.callTool({ name: 'echo', arguments: { text: 'hi' } })).toMatchObject({ content: [{ text: 'hi' }] });
    expect(c.questions).toHaveLength(1);
    expect(c.questions[0]!.message).toContain('Signed in as: alice@example.test');
    expect(lab.gateway.record.toolCalls.filter((t) => t.name === 'echo')).toHaveLength(1);
  });
});

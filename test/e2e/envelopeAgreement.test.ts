/**
 * Issue 14 item 6, end to end: an answer past 64 KiB is relayed while it streams, routed by the
 * envelope the bridge reads on the way. The built CLI against a hostile gateway
 * (scripts/lab/hostileGateway.ts 'large-tricky-answer') whose answers only a full JSON reading
 * routes right: the IDE must get exactly one answer it can parse for every request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHostileGateway } from '../../scripts/lab/hostileGateway.js';
import { spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const CALL = (id: number, variant: string, as: string): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: variant, as } } });

describe('a large answer is routed by the id JSON.parse reads in it', () => {
  it('escaped, duplicate and invalid-JSON answers over SSE and JSON bodies: exactly one parseable answer per request', async () => {
    const gw = await startHostileGateway({ mode: 'large-tricky-answer' });
    cleanups.push(() => gw.close());
    const home = await mkdtemp(path.join(tmpdir(), 'kb-env-home-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const b: BridgeProcess = spawnBridge([gw.url, '--transport', 'streamable-http', '--token-store', 'memory'], {
      env: { MCP_KEYBRIDGE_HOME: home, MCP_KEYBRIDGE_DEBUG: '', BROWSER: 'false' },
    });
    cleanups.push(() => b.kill());
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'envelope', version: '1' } } }));
    await b.waitFor((m) => m.id === 1, 30_000);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));

    const cases: { id: number; variant: string; as: string; answered: 'result' | 'error' }[] = [];
    let id = 10;
    for (const as of ['sse', 'json']) {
      cases.push({ id: id++, variant: 'escaped-id', as, answered: 'result' });
      cases.push({ id: id++, variant: 'duplicate-id', as, answered: 'error' });
      cases.push({ id: id++, variant: 'invalid-json', as, answered: 'error' });
    }
    // One at a time: a request's answer (or its error) is in before the next is sent.
    for (const c of cases) {
      b.writeLine(CALL(c.id, c.variant, c.as));
      const m = await b.waitFor((x) => x.id === c.id && ('result' in x || 'error' in x), 30_000);
      expect(m[c.answered], `${c.variant} over ${c.as}: ${JSON.stringify(m).slice(0, 200)}`).toBeDefined();
    }
    // A request that is answered last tells that nothing for the earlier ones is still coming.
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }));
    await b.waitFor((x) => x.id === 99, 30_000);
    for (const c of cases) {
      const answers = (b.messages as Record<string, unknown>[]).filter((m) => m.id === c.id);
      expect(answers, `${c.variant} over ${c.as}: answers`).toHaveLength(1);
    }
    // The other lines are the invalid answers (the ping is answered the same way: its error counts) and the other request's id.
    for (const m of b.messages as Record<string, unknown>[]) {
      if ('__unparseable' in m) expect(String(m.__unparseable)).toMatch(/^\{"jsonrpc":"2\.0","id":(1[0-5]|99),"result"/);
      else expect(m.jsonrpc).toBe('2.0');
    }
    b.child.stdin.end();
    expect(await Promise.race([b.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))])).toBe(0);
  }, 120_000);
});

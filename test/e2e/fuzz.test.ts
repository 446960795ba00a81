/**
 * A bounded fuzz run (fixed seeds, fixed counts): random and mutated JSON-RPC lines into the built
 * bridge, random SSE/JSON bodies, resets and HTTP errors out of a fake gateway
 * (scripts/lab/hostileGateway.ts 'fuzz'). After every batch: the bridge is alive, stdout is only
 * JSON-RPC, and every request the IDE sent got exactly one answer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, startHostileGateway } from '../../scripts/lab/hostileGateway.js';
import { assertStdoutIsJsonRpc, spawnBridge } from './harness/bridgeProcess.js';

const LINES = 1_200;
const BATCH = 24;
const SEED = 0x14;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** A request line, its id unique to this run. */
function requestLine(n: number, random: () => number): string {
  const id = random() < 0.5 ? n : `f-${n}-${Math.floor(random() * 1e6)}`;
  const method = random() < 0.8 ? 'tools/call' : 'ping';
  const params = method === 'ping' ? {} : { name: random() < 0.5 ? 'echo' : 'read_thing', arguments: { text: 'x'.repeat(Math.floor(random() * 40)) } };
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

/** A mutation of a line: bytes dropped, inserted or swapped, keys duplicated or escaped, framing broken. */
function mutate(line: string, random: () => number): string {
  const at = Math.floor(random() * line.length);
  const junk = ['"', '{', '}', '[', ']', ',', ':', '\\', '\\u0000', 'null', '"id":', '"name":', '"method":"tools/call",', '\u2028', '\r'];
  switch (Math.floor(random() * 7)) {
    case 0:
      return line.slice(0, at) + line.slice(at + 1);
    case 1:
      return line.slice(0, at) + junk[Math.floor(random() * junk.length)] + line.slice(at);
    case 2:
      return line.replace('"name":', '"name":"destructive_delete","name":');
    case 3:
      return line.replace('"id"', '"\\u0069d"');
    case 4:
      return `[${line},${line.replace(/"id":[^,]+,/, '')}]`;
    case 5:
      return line.replace(/"id":[^,]+,/, '');
    default:
      return line.slice(0, at);
  }
}

/** The id a line asks an answer for, as JSON.parse reads it (undefined: a notification, or not a request). */
function expectedIds(line: string): (string | number)[] {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return [];
  }
  const items = Array.isArray(v) ? v : [v];
  const ids: (string | number)[] = [];
  for (const m of items) {
    if (!m || typeof m !== 'object') continue;
    const r = m as { jsonrpc?: unknown; id?: unknown; method?: unknown };
    if (r.jsonrpc === '2.0' && typeof r.method === 'string' && (typeof r.id === 'string' || typeof r.id === 'number')) ids.push(r.id);
  }
  return ids;
}

describe('fuzz: random IDE lines and random gateway answers', () => {
  it(`${LINES} lines (seed ${SEED}): alive, stdout only JSON-RPC, every request answered exactly once`, async () => {
    const gw = await startHostileGateway({ mode: 'fuzz', seed: SEED });
    cleanups.push(() => gw.close());
    const home = await mkdtemp(path.join(tmpdir(), 'kb-fuzz-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    const b = spawnBridge([gw.url, '--transport', 'streamable-http', '--token-store', 'memory', '--deny-tool', 'destructive_*'], {
      env: { MCP_KEYBRIDGE_HOME: home, MCP_KEYBRIDGE_DEBUG: '', BROWSER: 'false' },
    });
    cleanups.push(() => b.kill());
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } } }));
    await b.waitFor((m) => m.id === 'init', 30_000);
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));

    const random = seededRandom(SEED);
    const expected = new Map<string, number>(); // JSON of an id → answers expected (1)
    const key = (id: unknown): string => JSON.stringify(id);
    for (let n = 0; n < LINES; n += BATCH) {
      for (let k = n; k < Math.min(LINES, n + BATCH); k++) {
        const base = requestLine(k, random);
        const line = random() < 0.5 ? base : mutate(base, random);
        // A line that cannot be framed as one line on stdin is not one input.
        if (/[\n]/.test(line)) continue;
        const ids = expectedIds(line).filter((id) => !expected.has(key(id)));
        if (ids.length !== expectedIds(line).length) continue; // a mutation reused an id: skip the line
        for (const id of ids) expected.set(key(id), 1);
        b.writeLine(line);
      }
      // Bounded wait for the batch: every expected id answered.
      const deadline = Date.now() + 60_000;
      const answered = (): Set<string> => new Set((b.messages as { id?: unknown; method?: unknown }[]).filter((m) => m.method === undefined && m.id !== undefined).map((m) => key(m.id)));
      while ([...expected.keys()].some((id) => !answered().has(id))) {
        expect(b.child.exitCode, `the bridge exited; stderr:\n${b.stderr().slice(-2000)}`).toBeNull();
        if (Date.now() > deadline) {
          const missing = [...expected.keys()].filter((id) => !answered().has(id));
          throw new Error(`no answer for ${missing.slice(0, 5).join(', ')} (${missing.length} missing); stderr:\n${b.stderr().slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      assertStdoutIsJsonRpc(b.stdout());
    }

    b.child.stdin.end();
    expect(await b.exited).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
    // Exactly one answer per request: count the answers carrying each expected id.
    const counts = new Map<string, number>();
    for (const m of b.messages as { id?: unknown; method?: unknown }[]) {
      if (m.method !== undefined || m.id === undefined) continue;
      const k = key(m.id);
      if (expected.has(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const twice = [...counts].filter(([, c]) => c > 1).map(([id]) => id);
    expect(twice, 'requests answered more than once').toEqual([]);
    expect(counts.size).toBe(expected.size);
    expect(expected.size).toBeGreaterThan(LINES / 3);
    expect(gw.methods.filter((m) => m === 'tools/call').length).toBeGreaterThan(0);
  }, 600_000);
});

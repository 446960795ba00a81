import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startGatewayProcess } from '/work/main/dist/scripts/bench/gatewayProcess.js';
const gw = await startGatewayProcess({ kind: 'v2', startTimeoutMs: 20000 });
const BIN = process.env.BIN ?? '/work/main/bin/mcp-keybridge.js';
let marks = []; let starts = [];
const timedFetch = async (url, init) => {
  const r = await fetch(url, init);
  if (!r.body) return r;
  const ts = new TransformStream({ transform(chunk, c) { marks.push(performance.now()); c.enqueue(chunk); } });
  return new Response(r.body.pipeThrough(ts), { status: r.status, headers: r.headers });
};
async function conn(mode) {
  const client = new Client({ name: 'probe', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  const t = mode === 'direct' ? new StreamableHTTPClientTransport(new URL(gw.url), { fetch: timedFetch }) : new StdioClientTransport({ command: process.execPath, args: [mode === 'dumb' ? '/tmp/probe/dumbstream.cjs' : BIN, gw.url], stderr: 'inherit' });
  await client.connect(t);
  if (mode !== 'direct') { t._process.stdout.prependListener('data', () => { starts.push(performance.now()); }); t._process.stdout.on('data', () => marks.push(performance.now())); }
  return client;
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1].toFixed(2); };
const res = { direct: [], bridge: [], dumb: [] };
const cs = { direct: await conn('direct'), bridge: await conn('bridge'), dumb: await conn('dumb') };
for (let i = 0; i < 20; i++) for (const m of ['direct', 'bridge', 'dumb']) await cs[m].callTool({ name: 'blob', arguments: { bytes: 1 << 20 } });
for (let i = 0; i < 60; i++) for (const m of (i % 2 ? ['direct', 'bridge', 'dumb'] : ['dumb', 'bridge', 'direct'])) {
  marks = []; starts = []; const t0 = performance.now();
  await cs[m].callTool({ name: 'blob', arguments: { bytes: 1 << 20 } });
  const t3 = performance.now();
  res[m].push({ busy: starts.reduce((a, s, i) => a + (marks[i] - s), 0), lastBusy: marks.at(-1) - (starts.at(-1) ?? marks.at(-1)), first: marks[0] - t0, last: marks.at(-1) - t0, done: t3 - t0, chunks: marks.length });
}
for (const m of ['direct', 'bridge', 'dumb']) console.log(m.padEnd(6), 'first byte', med(res[m].map((r) => r.first)), 'last byte', med(res[m].map((r) => r.last)), 'resolved', med(res[m].map((r) => r.done)), 'ms; chunks', med(res[m].map((r) => r.chunks)), 'IDE busy in data handlers', med(res[m].map((r) => r.busy)), 'of which the last chunk', med(res[m].map((r) => r.lastBusy)));
for (const c of Object.values(cs)) await c.close();
await gw.close();

// Micro-benchmark of EnvelopeScanner on ~1 MiB answers: npm run build && node scripts/bench-envelope-scanner.mjs [path/to/envelopeScanner.js]
const mod = await import(process.argv[2] ?? new URL("../dist/src/relay/envelopeScanner.js", import.meta.url).href);
const big = 'x'.repeat(1 << 20);
const mixed = JSON.stringify({ jsonrpc: '2.0', id: 'r1', result: { content: Array.from({ length: 8000 }, (_, i) => ({ type: 'text', text: `line ${i} with "quotes" \\ and \u00e4 ` + 'y'.repeat(80), n: i * 1.5, ok: i % 2 === 0, v: null })) } });
const cases = { 'one 1 MiB string': Buffer.from(`{"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"${big}"}]},"id":"r1"}`), 'structured ~1 MiB': Buffer.from(mixed) };
for (const [name, buf] of Object.entries(cases)) {
  const pieces = []; for (let o = 0; o < buf.length; o += 16384) pieces.push(buf.subarray(o, o + 16384));
  const run = () => { const s = new mod.EnvelopeScanner(); for (const p of pieces) s.push(p); const e = s.finish(); if (!e || e.id !== 'r1') throw new Error('bad ' + JSON.stringify(e)); };
  for (let i = 0; i < 30; i++) run();
  const N = 200; const t0 = process.hrtime.bigint(); for (let i = 0; i < N; i++) run(); const dt = Number(process.hrtime.bigint() - t0) / 1e6 / N;
  const t1 = process.hrtime.bigint(); for (let i = 0; i < 50; i++) JSON.parse(buf.toString('utf8')); const jp = Number(process.hrtime.bigint() - t1) / 1e6 / 50;
  console.log(`${name} (${(buf.length / 1048576).toFixed(2)} MiB, 16 KiB pieces): scanner ${dt.toFixed(3)} ms/msg (${(buf.length / 1048576 / (dt / 1000)).toFixed(0)} MiB/s); JSON.parse ${jp.toFixed(3)} ms`);
}

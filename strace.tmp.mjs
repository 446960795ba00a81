import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startGatewayProcess } from './dist/scripts/bench/gatewayProcess.js';
import { connectBridge } from './dist/scripts/bench/connections.js';
import { runCli } from './dist/scripts/bench/cliProcess.js';
import { echoCall, interleaved, warmUp } from './dist/scripts/bench/workloads.js';
import { SCRIPTED_BROWSER_ENV } from './dist/scripts/lab/scriptedBrowserEnv.js';
const BIN = path.resolve('bin/mcp-keybridge.js');
const root = await mkdtemp(path.join(tmpdir(), 'kb-strace-'));
const gw = await startGatewayProcess({ auth: { mode: 'oauth', dpop: true }, startTimeoutMs: 60000 });
const conns = {};
for (const kind of ['bearer', 'dpop']) {
  const env = { MCP_KEYBRIDGE_HOME: path.join(root, kind), BROWSER: `${process.execPath} ${path.resolve('dist/scripts/lab/scriptedBrowser.js')}`, ...SCRIPTED_BROWSER_ENV, LAB_BROWSER_LOG: path.join(root, kind + '.log') };
  const flags = ['--token-store', 'file', ...(kind === 'bearer' ? ['--no-dpop'] : [])];
  await runCli(BIN, ['login', gw.url, ...flags], env, 60000);
  conns[kind] = await connectBridge(gw.url, { binPath: BIN, nodeArgs: [], bridgeArgs: flags, env }, 60000);
}
const dl = { expired: false };
const calls = [echoCall(conns.bearer.client, 'hello'), echoCall(conns.dpop.client, 'hello')];
await interleaved(calls[0], calls[1], 400, dl);
const traces = {};
const procs = [];
for (const kind of ['bearer', 'dpop']) {
  const out = path.join(root, kind + '.strace');
  traces[kind] = out;
  procs.push(spawn('strace', ['-ttt', '-f', '-e', 'trace=read,write,writev,readv', '-o', out, '-p', String(conns[kind].pid)], { stdio: 'ignore' }));
}
await new Promise((r) => setTimeout(r, 1000));
const [a, b] = await interleaved(calls[0], calls[1], 300, dl);
for (const p of procs) p.kill('SIGINT');
await new Promise((r) => setTimeout(r, 500));
const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[s.length >> 1]; };
console.log('e2e p50 bearer', med(a.latenciesMs).toFixed(3), 'dpop', med(b.latenciesMs).toFixed(3));
for (const kind of ['bearer', 'dpop']) {
  const lines = readFileSync(traces[kind], 'utf8').split('\n');
  // fd 0 read (stdin) -> write to socket fd (request) -> read from socket -> write fd 1
  let stdinAt, reqAt, respAt; const out = [], wire = [], inb = [];
  for (const l of lines) {
    const m = /^\d+\s+(\d+\.\d+) (read|write|writev|readv)\((\d+),.*= (-?\d+)/.exec(l);
    if (!m) continue;
    const t = +m[1] * 1000, call = m[2], fd = +m[3], ret = +m[4];
    if (ret <= 0) continue;
    if (fd === 0 && call === 'read') { stdinAt = t; reqAt = undefined; respAt = undefined; }
    else if (fd > 2 && (call === 'write' || call === 'writev') && stdinAt !== undefined && reqAt === undefined) { reqAt = t; out.push(t - stdinAt); }
    else if (fd > 2 && (call === 'read' || call === 'readv') && reqAt !== undefined && respAt === undefined) { respAt = t; wire.push(t - reqAt); }
    else if (fd === 1 && call === 'write' && respAt !== undefined) { inb.push(t - respAt); stdinAt = undefined; }
  }
  console.log(kind, 'n', out.length, 'stdin->req p50', (med(out) * 1000).toFixed(0), 'µs; req->resp', (med(wire) * 1000).toFixed(0), 'µs; resp->stdout', (med(inb) * 1000).toFixed(0), 'µs');
}
console.log(root);
for (const c of Object.values(conns)) await c.close();
await gw.close();

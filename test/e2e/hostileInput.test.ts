/**
 * Hostile input never wins (issue 14), end to end: the built CLI under raw JSON-RPC lines against
 * the real lab gateway (its own record says what reached it), a hostile gateway
 * (scripts/lab/hostileGateway.ts: floods, resets) and, for the secret binding, the real lab IdP
 * followed by a second authorization server (scripts/lab/hostile.ts) that records what it got.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../scripts/lab/gateway.js';
import { startHostileServer, type HostileServer } from '../../scripts/lab/hostile.js';
import { startHostileGateway, type HostileGateway, type HostileGatewayMode } from '../../scripts/lab/hostileGateway.js';
import { startIdp, type Idp } from '../../scripts/lab/idp.js';
import { SCRIPTED_BROWSER_ENV } from '../../scripts/lab/scriptedBrowserEnv.js';
import { spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTED_BROWSER = path.join(repoRoot, 'dist/scripts/lab/scriptedBrowser.js');
const MiB = 1024 * 1024;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const INIT = (id: number): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile-input', version: '1' } } });
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
const CALL = (id: number, name: unknown, args: unknown = {}): string => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function bridge(args: string[], env: NodeJS.ProcessEnv = {}, home?: string): Promise<BridgeProcess> {
  const b = spawnBridge(args, { env: { MCP_KEYBRIDGE_HOME: home ?? (await tempDir('kb-hi-home-')), MCP_KEYBRIDGE_DEBUG: '', BROWSER: 'false', ...env } });
  cleanups.push(() => b.kill());
  return b;
}

async function finish(b: BridgeProcess): Promise<number | null> {
  b.child.stdin.end();
  return Promise.race([b.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
}

type RpcError = { code: number; message: string; data?: { reason?: string } };
async function errorFor(b: BridgeProcess, id: number, timeoutMs = 30_000): Promise<RpcError> {
  const m = await b.waitFor((x) => x.id === id, timeoutMs);
  expect(m.result, `expected an error for ${id}, got ${JSON.stringify(m).slice(0, 300)}`).toBeUndefined();
  return m.error as RpcError;
}

/** Peak resident memory of a live process (Linux VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

async function labGateway(): Promise<Gateway> {
  const gw = await startGateway({ auth: { mode: 'none' } });
  cleanups.push(() => gw.close());
  return gw;
}

async function initialized(b: BridgeProcess): Promise<void> {
  b.writeLine(INIT(1));
  await b.waitFor((m) => m.id === 1);
  b.writeLine(INITIALIZED);
}

describe('the policy judges what the gateway will read', () => {
  it('a notification-form tools/call, an array name and duplicate keys never reach the gateway; the request forms get errors', async () => {
    const gw = await labGateway();
    const b = await bridge([gw.url, '--transport', 'streamable-http', '--token-store', 'memory', '--deny-tool', 'destructive_delete']);
    await initialized(b);
    // No id: nothing could be answered, audited or budgeted — dropped, never forwarded.
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'destructive_delete', arguments: {} } }));
    b.writeLine(CALL(2, ['destructive_delete']));
    b.writeLine('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"destructive_delete","name":"echo","arguments":{"text":"a"}}}');
    b.writeLine('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","n\\u0061me":"destructive_delete","arguments":{"text":"b"}}}');
    b.writeLine('{"jsonrpc":"2.0","id":5,"id":6,"method":"tools/call","params":{"name":"echo","arguments":{"text":"c"}}}');
    b.writeLine(CALL(7, 'echo', { text: 'fine' }));
    expect((await errorFor(b, 2)).code).toBe(-32602);
    for (const id of [3, 4]) expect((await errorFor(b, id)).message).toMatch(/appears twice/);
    expect((await b.waitFor((m) => m.id === 7)).result).toMatchObject({ content: [{ text: 'fine' }] });
    expect(await finish(b)).toBe(0);
    // The gateway's own record: one tools/call, the allowed one.
    expect(gw.record.rpc.filter((r) => r.method === 'tools/call')).toHaveLength(1);
    expect(gw.record.toolCalls.map((c) => c.name)).toEqual(['echo']);
    expect(b.stderr()).toMatch(/a tools\/call must be a request with an id/);
  });

  it('a 10,000-deep line is answered and the next request works (with and without a policy)', async () => {
    const gw = await labGateway();
    // Built as text: JSON.stringify itself cannot serialize this depth.
    const deepCall = (id: number, d: number): string =>
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","deep":${'['.repeat(d)}${']'.repeat(d)}}}}`;
    for (const extra of [[], ['--audit-log', path.join(await tempDir('kb-hi-audit-'), 'audit.jsonl')]]) {
      const b = await bridge([gw.url, '--transport', 'streamable-http', '--token-store', 'memory', ...extra]);
      await initialized(b);
      b.writeLine(deepCall(2, 10_000));
      const answer = await b.waitFor((m) => m.id === 2);
      expect(answer.error ?? answer.result).toBeDefined();
      b.writeLine(CALL(3, 'echo', { text: 'after' }));
      expect((await b.waitFor((m) => m.id === 3)).result).toMatchObject({ content: [{ text: 'after' }] });
      expect(await finish(b)).toBe(0);
    }
  });
});

describe('no call is sent twice', () => {
  it('a gateway that resets the kept-alive socket after running a tools/call sees it once; the IDE gets an error', async () => {
    const h = await hostileGateway('reset-after-call');
    const b = await bridge([h.url, '--transport', 'streamable-http', '--token-store', 'memory']);
    await initialized(b);
    b.writeLine(CALL(2, 'transfer_money', { amount: 1 }));
    const err = await errorFor(b, 2);
    expect(err.code).toBe(-32000);
    expect(await finish(b)).toBe(0);
    expect(h.toolCalls).toBe(1);
  });
});

async function hostileGateway(mode: HostileGatewayMode): Promise<HostileGateway> {
  const h = await startHostileGateway({ mode });
  cleanups.push(() => h.close());
  return h;
}

describe('a hostile stream costs the request an error, not the memory', () => {
  // The streamed floods run at --max-message-size 8: the memory a stream costs does not depend on the
  // limit (85 MiB peak measured at the default 64 MiB), and 64 MiB through a loaded CI pipe takes ~45 s.
  const cases: { mode: HostileGatewayMode; args: string[]; says: RegExp; cutStart?: RegExp }[] = [
    { mode: 'sse-comment-flood', args: [], says: /not data/ },
    { mode: 'sse-data-lines-flood', args: ['--max-message-size', '8'], says: /larger than 8 MiB/, cutStart: /^y+/ },
    { mode: 'sse-data-line-flood', args: ['--max-message-size', '8', '--deny-tool', 'nothing_*'], says: /larger than 8 MiB/, cutStart: /^\{"jsonrpc":"2\.0","id":[23],"result"/ },
    { mode: 'json-flood', args: ['--max-message-size', '8'], says: /larger than 8 MiB/, cutStart: /^\{"jsonrpc":"2\.0","id":[23],"result"/ },
    { mode: 'json-flood', args: ['--max-message-size', '8', '--deny-tool', 'nothing_*'], says: /larger than 8 MiB/, cutStart: /^\{"jsonrpc":"2\.0","id":[23],"result"/ },
  ];
  for (const c of cases) {
    it(`${c.mode}${c.args.length ? ` (${c.args.join(' ')})` : ''}: under 100 MiB RSS, an error in bounded time`, async () => {
      const h = await hostileGateway(c.mode);
      const b = await bridge([h.url, '--transport', 'streamable-http', '--token-store', 'memory', ...c.args]);
      await initialized(b);
      b.writeLine(CALL(2, 'echo', { text: 'x' }));
      const err = await errorFor(b, 2, 90_000);
      expect(err.message).toMatch(c.says);
      expect(err.data?.reason).toBe('message_too_large');
      const rss = peakRss(b.child.pid!);
      expect(rss, `peak RSS ${Math.round(rss / MiB)} MiB`).toBeLessThan(100 * MiB);
      process.stderr.write(`[hostileInput] ${c.mode} ${c.args.join(' ')}: peak RSS ${Math.round(rss / MiB)} MiB\n`);
      // The bridge keeps serving.
      b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }));
      b.writeLine('{"broken');
      await b.waitFor((m) => m.id === null);
      expect(await finish(b)).toBe(0);
      // Every line on stdout is JSON-RPC, or the cut beginning of the refused message (never another message).
      for (const m of b.messages as Record<string, unknown>[]) {
        if ('__unparseable' in m) expect(String(m.__unparseable)).toMatch(c.cutStart ?? /^$/);
        else expect(m.jsonrpc).toBe('2.0');
      }
    }, 120_000);
  }

  it('a protected resource metadata document that never ends is refused within 1 MiB', async () => {
    const h = await hostileGateway('prm-flood');
    const b = await bridge([h.url, '--transport', 'streamable-http', '--token-store', 'memory', '--auth-timeout', '5']);
    b.writeLine(INIT(1));
    const err = await errorFor(b, 1, 60_000);
    expect(err.code).toBe(-32002);
    expect(err.message).toMatch(/larger than/);
    expect(peakRss(b.child.pid!)).toBeLessThan(100 * MiB);
    expect(h.floodBytes()).toBeLessThan(64 * MiB);
    expect(await finish(b)).toBe(0);
  }, 90_000);
});

describe('a client secret goes only to the authorization server it was first used with', () => {
  const SECRET_ENV = 'KB_HI_CLIENT_SECRET';

  /** The gateway (hostile.ts: every MCP request 401s) names idp first, then itself as the authorization server. */
  async function setting(staticClients: unknown[] = []): Promise<{ h: HostileServer; idp: Idp; home: string }> {
    const h = await startHostileServer({ mode: 'sound', tokenEndpointAuthMethods: ['client_secret_basic', 'client_secret_post'] });
    cleanups.push(() => h.close());
    const idp = await startIdp({ resource: h.url, staticClients: staticClients as never });
    cleanups.push(() => idp.close());
    h.setAuthorizationServer(idp.issuer);
    return { h, idp, home: await tempDir('kb-hi-bind-') };
  }

  function neverReceived(h: HostileServer, secret: string): void {
    const paths = h.requests.map((r) => new URL(r.url, 'http://x').pathname);
    expect(paths).not.toContain('/token');
    expect(paths).not.toContain('/authorize');
    const seen = JSON.stringify(h.requests);
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(Buffer.from(secret).toString('base64').slice(0, 16));
  }

  it('client credentials: a gateway that later names another authorization server gets a refusal, not the secret', async () => {
    const { h, idp, home } = await setting();
    const secret = idp.serviceClient.clientSecret;
    const profile = ['--grant', 'client-credentials', '--client-id', idp.serviceClient.clientId, '--client-secret-env', SECRET_ENV, '--token-store', 'file'];
    const env = { [SECRET_ENV]: secret };
    const login = await bridge(['login', h.url, ...profile], env, home);
    expect(await login.exited, login.stderr()).toBe(0);
    const logout = await bridge(['logout', h.url, ...profile], env, home);
    expect(await logout.exited).toBe(0);

    h.setAuthorizationServer(h.origin);
    const b = await bridge([h.url, '--transport', 'streamable-http', ...profile], env, home);
    b.writeLine(INIT(1));
    const err = await errorFor(b, 1);
    expect(err.code).toBe(-32002);
    expect(err.data?.reason).toBe('issuer_changed');
    expect(err.message).toContain('--force');
    expect(await finish(b)).toBe(0);
    neverReceived(h, secret);
  }, 90_000);

  it('browser flow: no browser is opened and nothing is sent to the other authorization server', async () => {
    const port = await freePort();
    const secret = 'kb-hi-confidential-secret-5d2f8a';
    const { h, home } = await setting([
      {
        client_id: 'kb-hi-conf',
        client_secret: secret,
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]);
    const profile = ['--client-id', 'kb-hi-conf', '--client-secret-env', SECRET_ENV, '--callback-port', String(port), '--token-store', 'file'];
    const browserLog = path.join(await tempDir('kb-hi-browser-'), 'launches.jsonl');
    const env = { [SECRET_ENV]: secret, BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`, ...SCRIPTED_BROWSER_ENV, LAB_BROWSER_LOG: browserLog };
    const login = await bridge(['login', h.url, ...profile], env, home);
    expect(await login.exited, login.stderr()).toBe(0);
    const logout = await bridge(['logout', h.url, ...profile], env, home);
    expect(await logout.exited).toBe(0);
    const launchesAfterLogin = (await readFile(browserLog, 'utf8')).split('\n').filter(Boolean).length;

    h.setAuthorizationServer(h.origin);
    const b = await bridge([h.url, '--transport', 'streamable-http', '--auth-timeout', '10', ...profile], env, home);
    b.writeLine(INIT(1));
    const err = await errorFor(b, 1);
    expect(err.code).toBe(-32002);
    expect(err.data?.reason).toBe('issuer_changed');
    expect(await finish(b)).toBe(0);
    expect((await readFile(browserLog, 'utf8')).split('\n').filter(Boolean)).toHaveLength(launchesAfterLogin);
    neverReceived(h, secret);
  }, 90_000);
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

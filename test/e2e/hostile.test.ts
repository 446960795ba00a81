/**
 * Hostile servers, end to end: the built CLI under raw JSON-RPC lines on stdin, against
 * scripts/lab/hostile.ts (malicious OAuth metadata, a cross-origin 307) and the real lab IdP.
 * $BROWSER is a recorder (a tiny node script appending its argv as a JSON line), so every launch
 * is on record. Hosts such as evil.example and x.example are strings in metadata only: the
 * recorder never fetches anything, and the bridge refuses before any request to them.
 */
import { request } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { HOSTILE_AUTHORIZATION_ENDPOINTS, startHostileServer, type HostileOptions, type HostileServer, type RecordedRequest } from '../../scripts/lab/hostile.js';
import { startIdp, type Idp } from '../../scripts/lab/idp.js';
import { startLab, type Lab } from '../../scripts/lab/lab.js';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { SCRIPTED_BROWSER_ENV } from '../../scripts/lab/scriptedBrowserEnv.js';
import { assertStdoutIsJsonRpc, spawnBridge, type BridgeProcess } from './harness/bridgeProcess.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTED_BROWSER = path.join(repoRoot, 'dist/scripts/lab/scriptedBrowser.js');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const INIT = (id: number | string): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile-e2e', version: '1' } } });
const LIST = (id: number | string): string => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Launches {
  /** BROWSER value that records its argv. */
  browser: string;
  /** Every launch so far: the argv the opener got (after the command itself). */
  read(): Promise<string[][]>;
  /** Wait (bounded) for at least one launch. */
  first(timeoutMs?: number): Promise<string[]>;
}

/** A $BROWSER stand-in that appends its argv as one JSON line and does nothing else. */
async function argvRecorder(): Promise<Launches> {
  const dir = await tempDir('kb-hostile-browser-');
  const script = path.join(dir, 'record-argv.mjs');
  const log = path.join(dir, 'launches.jsonl');
  await writeFile(
    script,
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`,
  );
  const read = async (): Promise<string[][]> => {
    const text = await readFile(log, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  };
  return {
    browser: `${process.execPath} ${script}`,
    read,
    async first(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = await read();
        if (all.length > 0) return all[0]!;
        if (Date.now() > deadline) throw new Error('the browser was never launched');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

async function hostile(opts: HostileOptions): Promise<HostileServer> {
  const h = await startHostileServer(opts);
  cleanups.push(() => h.close());
  return h;
}

async function bridge(args: string[], env: NodeJS.ProcessEnv): Promise<BridgeProcess> {
  const home = await tempDir('kb-hostile-home-');
  const b = spawnBridge(args, { env: { MCP_KEYBRIDGE_HOME: home, MCP_KEYBRIDGE_DEBUG: '', ...env } });
  cleanups.push(() => b.kill());
  return b;
}

/** End the bridge the way an IDE does (stdin EOF) and wait for it (bounded). */
async function finish(b: BridgeProcess): Promise<number | null> {
  b.child.stdin.end();
  const code = await Promise.race([b.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
  if (code === 'hung') {
    b.child.kill('SIGKILL');
    throw new Error(`the bridge did not exit on stdin EOF; stderr:\n${b.stderr()}`);
  }
  return code;
}

type JsonRpcError = { code: number; message: string; data?: { reason?: string } };

async function errorFor(b: BridgeProcess, id: number | string, timeoutMs?: number): Promise<JsonRpcError> {
  const m = await b.waitFor((x) => x.id === id, timeoutMs);
  expect(m.result, `expected an error for ${id}, got ${JSON.stringify(m)}`).toBeUndefined();
  return m.error as JsonRpcError;
}

const pathsOf = (requests: RecordedRequest[]): string[] => requests.map((r) => new URL(r.url, 'http://x').pathname);

/** JSON-RPC error code of a sign-in the bridge refused (README: -32002 sign-in refused). */
const SIGN_IN_REFUSED = -32002;

describe('malicious authorization endpoints are never handed to the browser', () => {
  for (const [name, endpoint] of Object.entries(HOSTILE_AUTHORIZATION_ENDPOINTS)) {
    it(`refuses ${name}: ${JSON.stringify(endpoint)}`, async () => {
      const h = await hostile({ mode: 'authorization-endpoint', endpoint });
      const launches = await argvRecorder();
      const b = await bridge([h.url, '--token-store', 'memory', '--auth-timeout', '5'], { BROWSER: launches.browser });
      b.writeLine(INIT(1));
      const err = await errorFor(b, 1);
      expect(err.code).toBe(SIGN_IN_REFUSED);
      expect(err.message).toContain('authorization_endpoint');
      expect(['bad_endpoint', 'insecure_endpoint', 'unsafe_browser_url']).toContain(err.data?.reason);
      expect(await finish(b)).toBe(0);

      // Refused at discovery: no registration, no listener, no URL printed, no launch.
      expect(pathsOf(h.requests)).not.toContain('/register');
      expect(pathsOf(h.requests)).not.toContain('/authorize');
      expect(b.stderr()).toContain('authorization_endpoint');
      expect(b.stderr()).not.toContain('Open this URL');
      expect(await launches.read()).toEqual([]);
      expect(h.collector.requests).toEqual([]);
      assertStdoutIsJsonRpc(b.stdout());
    });
  }

  it('hands a percent-encoded (harmless) https URL to the opener as exactly one argv element, no shell', async () => {
    // Quotes and & here are percent-encoded in the metadata itself: a valid https URL that no shell
    // can read as syntax. It is opened — as one argument equal to the URL the bridge built.
    const endpoint = 'https://x.example/a%22%26calc%26%22';
    const h = await hostile({ mode: 'authorization-endpoint', endpoint });
    const launches = await argvRecorder();
    const b = await bridge([h.url, '--token-store', 'memory', '--auth-timeout', '3'], { BROWSER: launches.browser });
    b.writeLine(INIT(1));
    const argv = await launches.first();
    expect(argv).toHaveLength(1);
    const opened = new URL(argv[0]!);
    expect(opened.href).toBe(argv[0]);
    expect(opened.origin).toBe('https://x.example');
    expect(opened.pathname).toBe('/a%22%26calc%26%22');
    expect(opened.searchParams.get('code_challenge_method')).toBe('S256');
    expect(new URL(opened.searchParams.get('redirect_uri')!).hostname).toBe('127.0.0.1');
    // Nobody signs in at x.example: the wait ends at --auth-timeout with a clear error.
    const err = await errorFor(b, 1, 20_000);
    expect(err.code).toBe(-32001);
    expect(err.data?.reason).toBe('auth_timeout');
    expect(await finish(b)).toBe(0);
    expect(await launches.read()).toHaveLength(1);
  });
});

describe('malicious metadata is refused with a clear message', () => {
  const cases: { name: string; opts: HostileOptions; reason: string; says: RegExp }[] = [
    { name: 'a non-loopback http token_endpoint', opts: { mode: 'token-endpoint', endpoint: 'http://evil.example/token' }, reason: 'insecure_endpoint', says: /token_endpoint http:\/\/evil\.example uses plain http/ },
    {
      name: 'a non-loopback http registration_endpoint',
      opts: { mode: 'registration-endpoint', endpoint: 'http://evil.example/register' },
      reason: 'insecure_endpoint',
      says: /registration_endpoint http:\/\/evil\.example uses plain http/,
    },
    { name: 'an issuer that is not the one looked up', opts: { mode: 'issuer-mismatch' }, reason: 'issuer_mismatch', says: /names issuer "https:\/\/evil\.example".*RFC 8414/ },
    { name: 'protected resource metadata for another resource', opts: { mode: 'resource-mismatch' }, reason: 'resource_mismatch', says: /is for resource "https:\/\/evil\.example\/mcp"/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const h = await hostile(c.opts);
      const launches = await argvRecorder();
      const b = await bridge([h.url, '--token-store', 'memory', '--auth-timeout', '5'], { BROWSER: launches.browser });
      b.writeLine(INIT('init'));
      const err = await errorFor(b, 'init');
      expect(err.code).toBe(SIGN_IN_REFUSED);
      expect(err.data?.reason).toBe(c.reason);
      expect(err.message).toMatch(c.says);
      expect(await finish(b)).toBe(0);
      expect(b.stderr()).toMatch(c.says);
      expect(pathsOf(h.requests)).not.toContain('/register');
      expect(await launches.read()).toEqual([]);
      assertStdoutIsJsonRpc(b.stdout());
    });
  }
});

describe('metadata that changes after it was vetted', () => {
  it('never registers at an endpoint that appears only in a later read of the metadata', async () => {
    const h = await hostile({ mode: 'metadata-switch' });
    const launches = await argvRecorder();
    const b = await bridge([h.url, '--token-store', 'memory', '--auth-timeout', '5'], { BROWSER: launches.browser });
    b.writeLine(INIT(1));
    // Registration is made against the metadata as vetted (oauth4webapi, no second read): the
    // endpoint a later read would name never sees a request. The vetted one is this server's own.
    const err = await errorFor(b, 1);
    expect(typeof err.code).toBe('number');
    expect(await finish(b)).toBe(0);
    expect(h.collector.requests).toEqual([]);
    expect(pathsOf(h.requests)).toContain('/register');
    // The sign-in page opened, if any, is the vetted server's own.
    for (const argv of await launches.read()) expect(new URL(argv.at(-1)!).origin).toBe(new URL(h.url).origin);
  });
});

describe('credentials never follow a redirect to another origin', () => {
  it('drops a static Authorization header and --header values on a 307 to another origin', async () => {
    const h = await hostile({ mode: 'redirect', redirectWhen: 'always' });
    const apiKey = 'lab-api-key-5f1c0e9a7b';
    const staticBearer = 'static-bearer-value-0d6e4b';
    const b = await bridge(
      [h.url, '--transport', 'streamable-http', '--token-store', 'memory', '--header', `Authorization: Bearer ${staticBearer}`, '--header', 'X-Api-Key: ${LAB_KEY}'],
      { LAB_KEY: apiKey, BROWSER: 'false' },
    );
    b.writeLine(INIT(1));
    const init = await b.waitFor((m) => m.id === 1);
    expect(init.result).toMatchObject({ serverInfo: { name: 'collector' } }); // the redirect was followed
    b.writeLine(LIST(2));
    await b.waitFor((m) => m.id === 2);
    expect(await finish(b)).toBe(0);

    // The gateway's own origin got the credentials...
    const first = h.requests.find((r) => r.method === 'POST')!;
    expect(first.headers.authorization).toBe(`Bearer ${staticBearer}`);
    expect(first.headers['x-api-key']).toBe(apiKey);
    // ...the other origin never did.
    const posts = h.collector.requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    for (const r of h.collector.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['x-api-key']).toBeUndefined();
    }
    const seen = JSON.stringify(h.collector.requests);
    expect(seen).not.toContain(apiKey);
    expect(seen).not.toContain(staticBearer);
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('drops the OAuth access token on a 307 to another origin after a real sign-in', async () => {
    const h = await hostile({ mode: 'redirect', redirectWhen: 'authorized' });
    const idp: Idp = await startIdp({ resource: h.url });
    cleanups.push(() => idp.close());
    h.setAuthorizationServer(idp.issuer);
    const browserLog = path.join(await tempDir('kb-hostile-launch-'), 'launches.jsonl');
    const apiKey = 'lab-api-key-9c3d2a1e44';
    const b = await bridge([h.url, '--transport', 'streamable-http', '--token-store', 'memory', '--header', 'X-Api-Key: ${LAB_KEY}'], {
      LAB_KEY: apiKey,
      BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
      ...SCRIPTED_BROWSER_ENV,
      LAB_BROWSER_LOG: browserLog,
    });
    b.writeLine(INIT(1));
    const init = await b.waitFor((m) => m.id === 1, 30_000);
    expect(init.result).toMatchObject({ serverInfo: { name: 'collector' } });
    b.writeLine(LIST(2));
    await b.waitFor((m) => m.id === 2);
    expect(await finish(b)).toBe(0);

    const accessTokens = idp.record.tokenResponses.map((t) => t.access_token!).filter(Boolean);
    expect(accessTokens.length).toBeGreaterThanOrEqual(1);
    // The gateway's origin got the token (so there was one to leak)...
    expect(h.requests.some((r) => accessTokens.some((t) => r.headers.authorization === `Bearer ${t}`))).toBe(true);
    // ...and the collector saw requests, none with a credential.
    expect(h.collector.requests.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(2);
    for (const r of h.collector.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['x-api-key']).toBeUndefined();
    }
    const seen = JSON.stringify(h.collector.requests);
    for (const t of [...accessTokens, apiKey]) expect(seen).not.toContain(t);
    assertStdoutIsJsonRpc(b.stdout());
  });
});

describe('credentials a gateway reflects back never reach the IDE', () => {
  it('masks a reflected Authorization header and --header value in the JSON-RPC error and on stderr', async () => {
    const h = await hostile({ mode: 'reflect' });
    const apiKey = 'lab-api-key-reflected-7d1f20';
    const bearer = 'opaque-static-bearer-3a9c55';
    const b = await bridge(
      [h.url, '--transport', 'streamable-http', '--token-store', 'memory', '--header', `Authorization: Bearer ${bearer}`, '--header', 'X-Api-Key: ${LAB_KEY}'],
      { LAB_KEY: apiKey, BROWSER: 'false' },
    );
    b.writeLine(INIT(1));
    const err = await errorFor(b, 1);
    expect(err.message).toContain('HTTP 500'); // the body excerpt is still there, as a hint...
    expect(err.message).toContain('server_error');
    expect(await finish(b)).toBe(0);
    expect(h.requests[0]!.headers['x-api-key']).toBe(apiKey); // (it was sent, to the gateway's own origin)
    // ...with the credentials masked, on stdout (the IDE's stream and logs) as on stderr.
    for (const text of [b.stdout(), b.stderr()]) {
      expect(text).not.toContain(apiKey);
      expect(text).not.toContain(bearer);
    }
    assertStdoutIsJsonRpc(b.stdout());
  });
});

/** A GET to the bridge's loopback callback listener with a chosen Host header. */
function callbackGet(redirectUri: URL, query: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: Number(redirectUri.port), path: `${redirectUri.pathname}${query}`, method: 'GET', headers: { host }, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('callback request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('the loopback callback only accepts the real authorization response', () => {
  async function oauthLab(): Promise<Lab & { idp: Idp }> {
    const l = await startLab({ auth: 'oauth' });
    cleanups.push(() => l.close());
    return l as Lab & { idp: Idp };
  }

  /** Start a bridge whose browser only records, and return the authorization URL it opened. */
  async function waitingBridge(l: Lab, extra: string[]): Promise<{ b: BridgeProcess; authUrl: URL; redirectUri: URL; state: string }> {
    const launchLog = path.join(await tempDir('kb-callback-launch-'), 'launches.jsonl');
    const b = await bridge([l.gateway.url, '--token-store', 'memory', ...extra], {
      BROWSER: `${process.execPath} ${SCRIPTED_BROWSER}`,
      ...SCRIPTED_BROWSER_ENV,
      LAB_BROWSER_NOOP: '1',
      LAB_BROWSER_LOG: launchLog,
    });
    b.writeLine(INIT(1));
    const deadline = Date.now() + 15_000;
    let line: string | undefined;
    while (!line) {
      line = (await readFile(launchLog, 'utf8').catch(() => '')).split('\n').find(Boolean);
      if (line) break;
      if (Date.now() > deadline) throw new Error(`the browser was never launched; stderr:\n${b.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const authUrl = new URL((JSON.parse(line) as { url: string }).url);
    const redirectUri = new URL(authUrl.searchParams.get('redirect_uri')!);
    return { b, authUrl, redirectUri, state: authUrl.searchParams.get('state')! };
  }

  it('ignores a foreign Host (DNS rebinding) and a wrong state, then completes with the real response', async () => {
    const l = await oauthLab();
    const { b, authUrl, redirectUri, state } = await waitingBridge(l, ['--auth-timeout', '60']);
    expect(redirectUri.hostname).toBe('127.0.0.1');
    const port = redirectUri.port;

    // The right state, but addressed to another name: a rebound evil.example page.
    expect(await callbackGet(redirectUri, `?code=forged-code-1&state=${encodeURIComponent(state)}`, `evil.example:${port}`)).toBe(400);
    expect(await callbackGet(redirectUri, `?code=forged-code-2&state=${encodeURIComponent(state)}`, `127.0.0.1.evil.example:${port}`)).toBe(400);
    expect(await callbackGet(redirectUri, `?code=forged-code-3&state=${encodeURIComponent(state)}`, 'evil.example')).toBe(400);
    // The right Host, a wrong or missing state.
    expect(await callbackGet(redirectUri, '?code=forged-code-4&state=not-the-state', `127.0.0.1:${port}`)).toBe(400);
    expect(await callbackGet(redirectUri, '?code=forged-code-5', `127.0.0.1:${port}`)).toBe(400);

    // The real user now signs in; the flow was still waiting.
    await completeLogin(authUrl.href);
    const init = await b.waitFor((m) => m.id === 1, 20_000);
    expect(init.result).toMatchObject({ serverInfo: expect.anything() });
    expect(await finish(b)).toBe(0);

    const codeGrants = l.idp.record.tokenRequests.filter((r) => r.grant_type === 'authorization_code');
    expect(codeGrants).toHaveLength(1);
    expect(codeGrants[0]!.code).not.toMatch(/^forged/);
    expect(b.stderr()).toContain('ignored a sign-in callback with a wrong or missing state');
    assertStdoutIsJsonRpc(b.stdout());
  });

  it('a forged error response (foreign Host or wrong state) cannot end the sign-in: it times out instead', async () => {
    const l = await oauthLab();
    const { b, redirectUri, state } = await waitingBridge(l, ['--auth-timeout', '3']);
    const port = redirectUri.port;
    // Had either been accepted, the IDE would get oauth_access_denied at once.
    expect(await callbackGet(redirectUri, `?error=access_denied&state=${encodeURIComponent(state)}`, `evil.example:${port}`)).toBe(400);
    expect(await callbackGet(redirectUri, '?error=access_denied&state=forged', `127.0.0.1:${port}`)).toBe(400);
    const err = await errorFor(b, 1, 20_000);
    expect(err.code).toBe(-32001);
    expect(err.data?.reason).toBe('auth_timeout');
    expect(err.message).toMatch(/did not complete within 3 s/);
    expect(await finish(b)).toBe(0);
    expect(l.idp.record.tokenRequests).toEqual([]);
  });
});

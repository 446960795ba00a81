import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { startLab, LAB_STATIC_TOKEN, type Lab } from '../../scripts/lab/lab.js';
import { blobText } from '../../scripts/lab/gateway.js';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';

const PROTOCOL_VERSION = '2025-06-18';

function textOf(result: unknown): string {
  const content = (result as CallToolResult).content[0];
  if (!content || content.type !== 'text') throw new Error('expected text content');
  return content.text;
}

async function connect(url: string, headers: Record<string, string> = {}, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'lab-test', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

function initializeBody(id: number | string = 0): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    signal: AbortSignal.timeout(5000),
  });
}

/** A tiny loopback server standing in for the CLI's OAuth callback listener. */
async function startCallbackServer(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in, you can close this tab');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Read SSE events from a response until `count` arrived, then stop reading. */
async function readEvents(res: Response, count: number): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  while (events.filter((e) => e.data).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  await reader.cancel();
  return events.filter((e) => e.data);
}

describe('lab gateway without auth', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'none' });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('lists the tools and answers echo, add and a 1 MiB blob intact', async () => {
    const client = await connect(lab.gateway.url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['add', 'ask_elicitation', 'ask_sampling', 'blob', 'destructive_delete', 'echo', 'notify', 'progress', 'read_thing', 'slow', 'whoami'].sort(),
    );
    expect(tools.find((t) => t.name === 'destructive_delete')?.annotations?.destructiveHint).toBe(true);
    expect(tools.find((t) => t.name === 'read_thing')?.annotations?.readOnlyHint).toBe(true);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'héllo' } }))).toBe('héllo');
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }))).toBe('42');
    const blob = textOf(await client.callTool({ name: 'blob', arguments: { bytes: 1024 * 1024 } }));
    expect(blob.length).toBe(1024 * 1024);
    expect(blob === blobText(1024 * 1024)).toBe(true);
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('{}');
    expect(lab.gateway.record.toolCalls.map((c) => c.name)).toContain('blob');
    await client.close();
  });

  it('sends progress, relays sampling and elicitation, and emits notifications', async () => {
    const client = await connect(lab.gateway.url, {}, { sampling: {}, elicitation: { form: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const content = req.params.messages[0]?.content;
      const prompt = content && !Array.isArray(content) && content.type === 'text' ? content.text : '';
      return { role: 'assistant', model: 'lab', content: { type: 'text', text: `sampled: ${prompt}` } };
    });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'yes' } }));
    const logs: unknown[] = [];
    let listChanged = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params.data);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged += 1;
    });

    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(progress).toEqual([1, 2, 3]);
    expect(textOf(await client.callTool({ name: 'ask_sampling', arguments: { prompt: 'hi' } }))).toBe('sampled: hi');
    expect(JSON.parse(textOf(await client.callTool({ name: 'ask_elicitation', arguments: { message: 'ok?' } })))).toEqual({
      action: 'accept',
      content: { answer: 'yes' },
    });
    expect(textOf(await client.callTool({ name: 'notify', arguments: {} }))).toBe('ok');
    expect(logs).toEqual(['hello from the lab gateway']);
    expect(listChanged).toBe(1);
    await client.close();
  });

  it('records a cancelled slow call and a deleted session', async () => {
    const client = await connect(lab.gateway.url);
    const controller = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { ms: 30_000 } }, undefined, { signal: controller.signal });
    await expect.poll(() => lab.gateway.record.toolCalls.some((c) => c.name === 'slow'), { timeout: 3000 }).toBe(true);
    controller.abort('user gave up');
    await expect(call).rejects.toThrow();
    await expect.poll(() => lab.gateway.record.cancellations.length, { timeout: 3000 }).toBe(1);
    expect(lab.gateway.record.cancellations[0]?.reason).toBe('user gave up');
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    expect(lab.gateway.record.deletedSessions).toContain(sessionId);
    await client.close();
  });

  it('replays missed events after Last-Event-ID', async () => {
    const url = lab.gateway.url;
    const init = await post(url, initializeBody());
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(sessionId).toBeTruthy();
    await readEvents(init, 1);
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION };
    expect((await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers)).status).toBe(202);
    const call = await post(
      url,
      JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'progress', arguments: { steps: 3 }, _meta: { progressToken: 'p' } } }),
      headers,
    );
    const all = await readEvents(call, 4);
    expect(all).toHaveLength(4);
    const resumed = await fetch(url, {
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': all[0]!.id! },
      signal: AbortSignal.timeout(5000),
    });
    expect(resumed.status).toBe(200);
    const replayed = await readEvents(resumed, 3);
    expect(replayed.map((e) => e.id)).toEqual(all.slice(1).map((e) => e.id));
    expect(lab.gateway.record.requests.some((r) => r.lastEventId === all[0]!.id)).toBe(true);
  });
});

describe('lab gateway with a static token', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'static' });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('answers 401 without the token and serves the client with it', async () => {
    const refused = await post(lab.gateway.url, initializeBody());
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await post(lab.gateway.url, initializeBody(), { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const client = await connect(lab.gateway.url, { Authorization: `Bearer ${LAB_STATIC_TOKEN}` });
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('x');
    await client.close();
    expect(lab.gateway.record.requests.some((r) => r.status === 200 && r.authorization === `Bearer ${LAB_STATIC_TOKEN}`)).toBe(true);
  });
});

describe('lab gateway speaking only legacy HTTP+SSE', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ auth: 'none', legacySse: true });
  });
  afterAll(async () => {
    await lab.close();
  });

  it('refuses Streamable HTTP and serves the SSE client on the same URL', async () => {
    expect((await post(lab.gateway.url, initializeBody())).status).toBe(405);
    const client = new Client({ name: 'lab-test', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(lab.gateway.url)));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'old' } }))).toBe('old');
    await client.close();
  });
});

describe('lab with OAuth (oidc-provider + JWT-validating gateway)', () => {
  let lab: Lab;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;

  beforeAll(async () => {
    lab = await startLab({ auth: 'oauth' });
    callback = await startCallbackServer();
  });
  afterAll(async () => {
    await lab.close();
    await callback.close();
  });

  async function register(): Promise<oidc.Configuration> {
    // Registered without a port; RFC 8252 §7.3 lets the loopback redirect use any port.
    return oidc.dynamicClientRegistration(
      new URL(lab.idp!.issuer),
      {
        client_name: 'lab test',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  async function authorizationUrl(config: oidc.Configuration): Promise<{ url: URL; verifier: string; state: string }> {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callback.port}/callback`,
      // The lab runs oidc-provider's stock policy: a refresh token only for offline_access, which it
      // grants only with prompt=consent (OIDC Core §11).
      scope: 'openid mcp:tools offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      resource: lab.gateway.url,
    });
    return { url, verifier, state };
  }

  it('serves protected resource metadata and challenges with resource_metadata', async () => {
    const origin = new URL(lab.gateway.url).origin;
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await fetch(`${origin}${path}`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: lab.gateway.url,
        authorization_servers: [lab.idp!.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'keybridge lab gateway',
      });
    }
    const refused = await post(lab.gateway.url, initializeBody());
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
    const bad = await post(lab.gateway.url, initializeBody(), { authorization: 'Bearer not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", /);
  });

  it('signs in with authorization code + PKCE, calls the gateway, refreshes with rotation', async () => {
    const config = await register();
    const { url, verifier, state } = await authorizationUrl(config);
    const login = await completeLogin(url.href, { username: 'alice', password: 'wonderland' });
    expect(login.callbackStatus).toBe(200);
    expect(login.callbackBody).toContain('signed in');
    expect(callback.seen.at(-1)).toContain(`state=${state}`);

    const tokens = await oidc.authorizationCodeGrant(config, new URL(login.callbackUrl), { pkceCodeVerifier: verifier, expectedState: state }, { resource: lab.gateway.url });
    const claims = decodeJwt(tokens.access_token);
    expect(claims.aud).toBe(lab.gateway.url);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.sub).toBe('alice');
    expect(tokens.refresh_token).toBeTruthy();
    const codeRequest = lab.idp!.record.tokenRequests.find((r) => r.grant_type === 'authorization_code');
    expect(codeRequest?.resource).toBe(lab.gateway.url);
    expect(codeRequest?.code_verifier).toBe(verifier);
    expect(lab.idp!.record.authorizationRequests.at(-1)?.code_challenge_method).toBe('S256');
    expect(lab.idp!.record.registrations).toHaveLength(1);
    expect(await lab.idp!.introspect(tokens.access_token)).toMatchObject({ active: true, sub: 'alice' });
    expect((await lab.idp!.introspect(tokens.refresh_token!)).active).toBe(true);

    const client = await connect(lab.gateway.url, { Authorization: `Bearer ${tokens.access_token}` });
    const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ sub: 'alice', aud: lab.gateway.url, token_kind: 'access' });
    expect(who.scope.split(' ')).toContain('mcp:tools');
    await client.close();
    expect(lab.gateway.record.toolCalls.at(-1)).toMatchObject({ name: 'whoami', subject: 'alice' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: lab.gateway.url });
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(refreshed.access_token).aud).toBe(lab.gateway.url);
    const again = await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${refreshed.access_token}` });
    expect(again.status).toBe(200);
    await again.body?.cancel();

    // Presenting the rotated-out refresh token again is reuse: refused, and the grant is revoked.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: lab.gateway.url })).rejects.toThrow();
    expect(lab.idp!.record.refreshReuse).toBe(1);
    expect((await lab.idp!.introspect(refreshed.refresh_token!)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!, { resource: lab.gateway.url })).rejects.toThrow();
  });

  it('steps up on tool scopes and tells ID tokens from access tokens', async () => {
    const config = await register();
    const { url, verifier, state } = await authorizationUrl(config);
    const login = await completeLogin(url.href);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(login.callbackUrl), { pkceCodeVerifier: verifier, expectedState: state }, { resource: lab.gateway.url });
    const base = { mode: 'jwt' as const, issuer: lab.idp!.issuer, jwksUri: lab.idp!.jwksUri, audience: lab.gateway.url, scopesSupported: ['mcp:tools'] };
    const origin = new URL(lab.gateway.url).origin;
    try {
      lab.gateway.setAuth({ ...base, toolScopes: { destructive_delete: 'mcp:admin' } });
      const call = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'destructive_delete', arguments: {} } });
      const forbidden = await post(lab.gateway.url, call, { authorization: `Bearer ${tokens.access_token}` });
      expect(forbidden.status).toBe(403);
      const challenge = forbidden.headers.get('www-authenticate')!;
      expect(challenge).toMatch(/^Bearer error="insufficient_scope", scope="[^"]*mcp:admin[^"]*"/);
      expect(challenge).toContain(`resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`);

      lab.gateway.setAuth(base);
      expect((await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.id_token}` })).status).toBe(401);

      lab.gateway.setAuth({ ...base, acceptIdToken: true });
      const withId = await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.id_token}` });
      expect(withId.status).toBe(200);
      await withId.body?.cancel();
      expect((await post(lab.gateway.url, initializeBody(), { authorization: `Bearer ${tokens.access_token}` })).status).toBe(401);
    } finally {
      lab.gateway.setAuth(base);
    }
  });

  it('reports access_denied when the user cancels, and rejects a wrong password', async () => {
    const config = await register();
    const denied = await completeLogin((await authorizationUrl(config)).url.href, { deny: true });
    expect(new URL(denied.callbackUrl).searchParams.get('error')).toBe('access_denied');
    await expect(completeLogin((await authorizationUrl(config)).url.href, { password: 'wrong' })).rejects.toThrow(/rejected/);
  });
});

describe('lab lifecycle and variants', () => {
  it('closes promptly with a client, its GET stream and a call still open', async () => {
    const lab = await startLab({ auth: 'none' });
    const client = await connect(lab.gateway.url);
    const call = client.callTool({ name: 'slow', arguments: { ms: 60_000 } });
    await expect.poll(() => lab.gateway.record.toolCalls.length, { timeout: 3000 }).toBe(1);
    await lab.close();
    // The SDK client only notices through its reconnect attempts or timeout; closing it fails the call.
    await client.close();
    await expect(call).rejects.toThrow();
    await expect(fetch(lab.gateway.url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('serves an issuer with a path, and client credentials for the service client', async () => {
    const lab = await startLab({ auth: 'oauth', idp: { issuerPath: '/tenant-a' } });
    const callback = await startCallbackServer();
    try {
      const idp = lab.idp!;
      expect(idp.issuer).toMatch(/\/tenant-a$/);
      const rfc8414 = await fetch(`${new URL(idp.issuer).origin}/.well-known/oauth-authorization-server/tenant-a`, { signal: AbortSignal.timeout(5000) });
      expect((await rfc8414.json()).issuer).toBe(idp.issuer);

      const service = await oidc.discovery(new URL(idp.issuer), idp.serviceClient.clientId, undefined, oidc.ClientSecretBasic(idp.serviceClient.clientSecret), {
        execute: [oidc.allowInsecureRequests],
      });
      const cc = await oidc.clientCredentialsGrant(service, { resource: lab.gateway.url, scope: 'mcp:tools' });
      expect(decodeJwt(cc.access_token)).toMatchObject({ aud: lab.gateway.url, sub: idp.serviceClient.clientId, scope: 'mcp:tools' });

      const config = await oidc.dynamicClientRegistration(
        new URL(idp.issuer),
        { application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] },
        oidc.None(),
        { execute: [oidc.allowInsecureRequests] },
      );
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${callback.port}/cb`,
        scope: 'mcp:tools',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource: lab.gateway.url,
      });
      const login = await completeLogin(url.href);
      expect(new URL(login.callbackUrl).searchParams.get('iss')).toBe(idp.issuer);
      expect(callback.seen).toHaveLength(1);
      expect(idp.record.authorizationRequests).toHaveLength(1);
    } finally {
      await callback.close();
      await lab.close();
    }
  });

  const browserScript = join(process.cwd(), 'dist/scripts/lab/scriptedBrowser.js');
  it.skipIf(!existsSync(browserScript))('scriptedBrowser logs the launch and completes the login', async () => {
    const lab = await startLab({ auth: 'oauth' });
    const callback = await startCallbackServer();
    const { port, seen } = callback;
    try {
      const config = await oidc.dynamicClientRegistration(
        new URL(lab.idp!.issuer),
        { application_type: 'native', redirect_uris: [`http://127.0.0.1:${port}/cb`], token_endpoint_auth_method: 'none' },
        oidc.None(),
        { execute: [oidc.allowInsecureRequests] },
      );
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `http://127.0.0.1:${port}/cb`,
        scope: 'mcp:tools',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const log = join(mkdtempSync(join(tmpdir(), 'lab-browser-')), 'launches.jsonl');
      await promisify(execFile)(process.execPath, [browserScript, url.href], {
        env: { ...process.env, LAB_BROWSER_LOG: log, LAB_USER: 'alice', LAB_PASSWORD: 'wonderland' },
        timeout: 15_000,
      });
      expect(JSON.parse(readFileSync(log, 'utf8').trim())).toMatchObject({ url: url.href });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/^\/cb\?code=[^&]+&state=st&iss=/);
    } finally {
      await callback.close();
      await lab.close();
    }
  });
});

import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { safeEqual, startCallbackServer, type CallbackServer } from '../../src/auth/callbackServer.js';
import { AuthRefusedError, AuthRequiredError, KeybridgeError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';

const servers: CallbackServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

const log = new Logger({ sink: { write: () => undefined } });

async function start(host: 'localhost' | '127.0.0.1' = '127.0.0.1'): Promise<CallbackServer> {
  const s = await startCallbackServer({ host, log });
  servers.push(s);
  return s;
}

/** GET through 127.0.0.1 with an explicit Host header (what a browser, or a rebinding page, would send). */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('callback server', () => {
  it('binds loopback, returns the full callback URL for the right state, and is one-shot', async () => {
    const s = await start();
    expect(s.redirectUri).toBe(`http://127.0.0.1:${s.port}/callback`);
    const wait = s.waitForCallback({ expectedState: 'state-123', timeoutMs: 10_000 });
    const host = `127.0.0.1:${s.port}`;
    expect((await get(s.port, '/callback?code=x&state=wrong', host)).status).toBe(400);
    expect((await get(s.port, '/callback?code=x', host)).status).toBe(400);
    expect((await get(s.port, '/elsewhere?state=state-123', host)).status).toBe(404);
    const ok = await get(s.port, '/callback?code=the-code&state=state-123&iss=https%3A%2F%2Fas.example', host);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('close this tab');
    const url = await wait;
    expect(url.href).toBe(`http://127.0.0.1:${s.port}/callback?code=the-code&state=state-123&iss=https%3A%2F%2Fas.example`);
    const again = await get(s.port, '/callback?code=other&state=state-123', host);
    expect(again.status).toBe(200);
    expect(again.body).toContain('already finished');
  });

  it('refuses requests whose Host header is not our loopback name (DNS rebinding)', async () => {
    const s = await start('localhost');
    expect(s.redirectUri).toBe(`http://localhost:${s.port}/callback`);
    const wait = s.waitForCallback({ expectedState: 'st', timeoutMs: 10_000 });
    expect((await get(s.port, '/callback?code=x&state=st', `evil.example:${s.port}`)).status).toBe(400);
    expect((await get(s.port, '/callback?code=x&state=st', `127.0.0.1:${s.port}`)).status).toBe(400);
    expect((await get(s.port, '/callback?code=x&state=st', `localhost:${s.port}`)).status).toBe(200);
    await wait;
  });

  it('ends the flow with error= (escaped in the page) when the state matches', async () => {
    const s = await start();
    const wait = s.waitForCallback({ expectedState: 'st', timeoutMs: 10_000 });
    wait.catch(() => undefined);
    const res = await get(s.port, `/callback?state=st&error=access_denied&error_description=${encodeURIComponent('<script>alert(1)</script>')}`, `127.0.0.1:${s.port}`);
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&#60;script&#62;');
    const err = await wait.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect((err as KeybridgeError).code).toBe('oauth_access_denied');
  });

  it('gives up at the deadline and on abort', async () => {
    const s = await start();
    const late = await s.waitForCallback({ expectedState: 'st', timeoutMs: 50 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(AuthRequiredError);
    expect((late as KeybridgeError).code).toBe('auth_timeout');

    const s2 = await start();
    const ac = new AbortController();
    const wait = s2.waitForCallback({ expectedState: 'st', timeoutMs: 10_000, signal: ac.signal });
    ac.abort();
    expect(((await wait.catch((e: unknown) => e)) as KeybridgeError).code).toBe('auth_cancelled');
  });

  it('reports a fixed port that is taken as a usage error', async () => {
    const s = await start();
    const err = await startCallbackServer({ host: '127.0.0.1', port: s.port, log }).catch((e: unknown) => e);
    expect((err as KeybridgeError).code).toBe('callback_port_in_use');
  });

  it('compares state in constant time, any lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

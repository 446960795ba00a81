/**
 * Token store faults seen by the bridge: a keychain that stops answering (the private
 * gnome-keyring-daemon paused with SIGSTOP, in a nested keyring of its own so other tests are not
 * disturbed) and a corrupt keychain entry. Built CLI, lab, real Secret Service.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import {
  bridge,
  cliKeychain,
  connect,
  firstText,
  hasKeyringTools,
  startOAuthLab,
  storedSession,
  waitUntil,
  WITH_KEYRING,
  workspace,
  useFileFixtures,
} from './harness/labFleet.js';

const cleanups = useFileFixtures();

const INIT = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'store-faults', version: '1' } },
  });

describe.skipIf(!hasKeyringTools)('a keychain that never answers (private nested keyring, daemon paused)', () => {
  it('answers the request with a clear JSON-RPC error within a bound instead of hanging, and recovers once the keychain answers', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const pidFile = path.join(ws.home, '..', 'keyring.pid');
    // The bridge runs inside its own private keyring; the wrapper tells us that daemon's pid.
    const b = bridge(cleanups, lab.gateway.url, ws, {
      args: ['--debug'],
      env: { KB_KEYRING_PID_FILE: pidFile },
      wrap: ['bash', WITH_KEYRING, 'bash', '-c', 'printf %s "$MCP_KEYBRIDGE_KEYRING_PID" > "$KB_KEYRING_PID_FILE"; exec "$@"', 'kb-keyring-wrap'],
    });
    expect(await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 20_000)).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    let paused = false;
    const resume = () => {
      if (paused) process.kill(pid, 'SIGCONT');
      paused = false;
    };
    cleanups.push(async () => resume());

    process.kill(pid, 'SIGSTOP');
    paused = true;
    b.writeLine(INIT(1));
    const answer = await b.waitFor((m) => m.id === 1, 90_000);
    const error = answer.error as { code: number; message: string; data?: { reason?: string } };
    expect(error.code).toBe(-32000);
    expect(error.message).toMatch(/mcp-keybridge: The keychain did not answer/);
    expect(error.data?.reason).toBe('store_timeout');
    expect(ws.launches()).toBe(0);
    expect(b.child.exitCode).toBeNull();

    // The keychain answers again: the same bridge signs in and serves.
    resume();
    b.writeLine(INIT(2));
    const init = await b.waitFor((m) => m.id === 2, 60_000);
    expect(init.result).toBeDefined();
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    b.writeLine(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'recovered' } } }));
    const called = await b.waitFor((m) => m.id === 3, 30_000);
    expect(firstText(called.result)).toBe('recovered');
    expect(ws.launches()).toBe(1);

    b.child.stdin.end();
    expect(await Promise.race([b.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))])).toBe(0);
    assertStdoutIsJsonRpc(b.stdout());
  });
});

describe.skipIf(!hasKeyringTools)('a corrupt keychain entry', () => {
  it('is reported clearly and treated as signed out: one sign-in replaces it, no crash loop', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const key = `session:${lab.gateway.url}`;
    const keyring = await import('@napi-rs/keyring');
    await new keyring.AsyncEntry('mcp-keybridge', key, { linux: { store: 'secret-service' } }).setPassword('{not a manifest');
    await expect((await cliKeychain()).get(key)).rejects.toMatchObject({ code: 'store_corrupt' });

    const b = bridge(cleanups, lab.gateway.url, ws);
    const client = await connect(cleanups, b);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'fine' } }))).toBe('fine');
    expect(ws.launches()).toBe(1);
    expect(b.stderr()).toMatch(/keychain entry mcp-keybridge\/session:\S+ is corrupt: its manifest entry is not a valid parts manifest/);
    expect(b.stderr()).toContain('Treating it as signed out');
    expect((await storedSession(lab))?.accessToken).toBeTruthy();

    // The entry is whole again: another window starts without signing in.
    const second = bridge(cleanups, lab.gateway.url, ws);
    const other = await connect(cleanups, second);
    expect(firstText(await other.callTool({ name: 'echo', arguments: { text: 'second' } }))).toBe('second');
    expect(ws.launches()).toBe(1);
    expect(second.stderr()).not.toContain('corrupt');
    assertStdoutIsJsonRpc(b.stdout());
  });
});

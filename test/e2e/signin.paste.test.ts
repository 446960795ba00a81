/**
 * Sign-in from a remote machine, end to end through the BUILT CLI: `login --no-browser` prints the
 * URL; the scripted browser (scripts/lab/scriptedLogin.ts) signs in at the lab's oidc-provider and
 * stops at the redirect to the loopback callback without requesting it, as a browser on another
 * machine would — so nothing ever reaches the CLI's listener — and the test pastes the address
 * the browser ended on into the CLI's stdin. A pasted address with a wrong state is refused and
 * the prompt stays open; the right one completes the sign-in (state, PKCE and iss checked by
 * openid-client as on the loopback path); a bridge started afterwards needs no sign-in.
 * The bridge, which cannot prompt, names that command in its JSON-RPC error; doctor over SSH says to use it.
 *
 *   npm run build && bash scripts/with-keyring.sh npx vitest run test/e2e/signin.paste.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import { launches, s256, sdkClient, startBridge, startOAuthLab, waitUntil, whoami, workspace, type Cleanup } from './harness/signinWorkspace.js';

const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
if (!hasSessionBus) {
  console.warn('signin.paste: no DBUS_SESSION_BUS_ADDRESS, skipping (the CLI keeps tokens in the Secret Service); run under `bash scripts/with-keyring.sh`.');
}

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe.skipIf(!hasSessionBus)('sign-in by pasting the redirect (login --no-browser, built CLI, lab IdP, Secret Service)', () => {
  it('refuses a pasted address with a wrong state, completes with the right one, and a later bridge needs no sign-in', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const login = startBridge(cleanups, ['login', lab.gateway.url, '--no-browser'], ws);
    const failWith = (e: Error): never => {
      throw new Error(`${e.message}; login stderr:\n${login.stderr()}`);
    };
    const urlMatch = await waitUntil('the sign-in URL on stderr', () => /Open this URL in a browser to sign in:\s+(\S+)/.exec(login.stderr())).catch(failWith);
    await waitUntil('the paste prompt', () => login.stderr().includes('paste here the address the browser ended on')).catch(failWith);

    // The user's browser, elsewhere: it ends on the callback address, which never reaches this machine.
    const browser = await completeLogin(urlMatch[1]!, { deliverCallback: false });
    expect(browser.callbackStatus).toBe(0);
    const finalUrl = new URL(browser.callbackUrl);
    const auth = lab.idp.record.authorizationRequests.at(-1)!;
    expect(`${finalUrl.origin}${finalUrl.pathname}`).toBe(auth.redirect_uri);
    expect(finalUrl.searchParams.get('code')).toBeTruthy();
    expect(finalUrl.searchParams.get('iss')).toBe(lab.idp.issuer);

    // A pasted address from another sign-in (same code, another state) is refused; the prompt stays open.
    const forged = new URL(finalUrl.href);
    forged.searchParams.set('state', 'state-of-another-sign-in');
    login.writeLine(forged.href);
    await waitUntil('the refusal of the wrong state', () => login.stderr().includes('its state does not match this sign-in')).catch(failWith);
    expect(login.child.exitCode).toBeNull();
    expect(lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'authorization_code')).toHaveLength(0);

    // The real one completes the sign-in.
    login.writeLine(finalUrl.href);
    const code = await Promise.race([login.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
    if (code !== 0) failWith(new Error(`login ended with ${String(code)}`));
    expect(login.stdout()).toBe('');
    expect(login.stderr()).toContain(`signed in to ${lab.gateway.url}`);
    expect(launches(ws)).toHaveLength(0);
    const exchanges = lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'authorization_code');
    expect(exchanges).toHaveLength(1);
    // The same checks as the loopback path: the registered redirect_uri, the verifier of the S256 challenge.
    expect(exchanges[0]!.redirect_uri).toBe(auth.redirect_uri);
    expect(s256(exchanges[0]!.code_verifier!)).toBe(auth.code_challenge);
    // Nothing secret on stderr: the code is masked.
    expect(login.stderr()).not.toContain(finalUrl.searchParams.get('code')!);

    // A bridge started afterwards uses that session: no browser, no new authorization request.
    const authorizationsBefore = lab.idp.record.authorizationRequests.length;
    const bridge = startBridge(cleanups, [lab.gateway.url], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect(await whoami(client)).toMatchObject({ sub: 'alice', aud: lab.gateway.url });
    expect(launches(ws)).toHaveLength(0);
    expect(lab.idp.record.authorizationRequests.length).toBe(authorizationsBefore);
    await client.close();
    expect(await bridge.exited).toBe(0);
    assertStdoutIsJsonRpc(bridge.stdout());

    // doctor, run over SSH, says so and names the paste flow.
    const doctor = startBridge(cleanups, ['doctor', lab.gateway.url], { ...ws, env: { ...ws.env, SSH_CONNECTION: '127.0.0.1 50000 127.0.0.1 22' } });
    expect(await doctor.exited, doctor.stdout() + doctor.stderr()).toBe(0);
    expect(doctor.stdout()).toMatch(/✓ sign-in environment: SSH session \(SSH_CONNECTION is set\).*login <url> --no-browser/);
  });

  it('a bridge that cannot finish a sign-in names `login --no-browser` on stderr and in the JSON-RPC error', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups);
    const bridge = startBridge(cleanups, [lab.gateway.url, '--no-browser', '--auth-timeout', '2'], ws);
    bridge.writeLine(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'paste-e2e', version: '1' } } }),
    );
    const answer = await bridge.waitFor((m) => m.id === 1, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; bridge stderr:\n${bridge.stderr()}`);
    });
    const error = answer.error as { message?: string } | undefined;
    expect(error?.message).toContain(`mcp-keybridge login ${lab.gateway.url} --no-browser`);
    expect(bridge.stderr()).toContain(`mcp-keybridge login ${lab.gateway.url} --no-browser`);
    expect(launches(ws)).toHaveLength(0);
    bridge.child.stdin.end();
    await Promise.race([bridge.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
    assertStdoutIsJsonRpc(bridge.stdout());
  });
});

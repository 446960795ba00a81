/**
 * Sign-in against the lab identity provider with oidc-provider's STOCK policies (refresh tokens
 * only for offline_access, consent as it decides) and a Cognito-shaped profile whose keychain key
 * is longer than any account name the OS stores comfortably — the built CLI, the real Secret
 * Service, a second process finding what the first stored.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/signin.interop.test.ts
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import { cliKeychain, launches, sdkClient, startBridge, startOAuthLab, waitUntil, whoami, workspace, type Cleanup } from './harness/signinWorkspace.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const hasSessionBus = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);

describe.skipIf(!hasSessionBus)('stock OpenID provider policies (oidc-provider defaults)', () => {
  it('asks for offline_access, gets a refresh token, refreshes on expiry without a browser; status and the audit log name the user', async () => {
    const lab = await startOAuthLab(cleanups, { accessTokenTtl: 5 });
    const ws = await workspace(cleanups);
    const audit = path.join(path.dirname(ws.home), 'audit.jsonl');
    const bridge = startBridge(cleanups, [lab.gateway.url, '--audit-log', audit], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport()).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${bridge.stderr()}`);
    });
    expect((await whoami(client)).sub).toBe('alice');

    const [authz] = lab.idp.record.authorizationRequests;
    expect(authz?.scope?.split(' ')).toContain('offline_access');
    const codeGrant = lab.idp.record.tokenRequests.find((r) => r.grant_type === 'authorization_code');
    expect(codeGrant).toBeDefined();

    // Past the 5 s lifetime the bridge refreshes (no second browser launch).
    const refreshesBefore = lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length;
    await new Promise((r) => setTimeout(r, 6_000));
    expect((await whoami(client)).sub).toBe('alice');
    await waitUntil('a refresh grant', () => lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'refresh_token').length > refreshesBefore);
    expect(launches(ws)).toHaveLength(1);
    await client.close();
    assertStdoutIsJsonRpc(bridge.stdout());

    const status = startBridge(cleanups, ['status', lab.gateway.url, '--json'], ws);
    expect(await status.exited).toBe(0);
    const report = JSON.parse(status.stdout()) as { sessions: { subject: string | null; hasRefreshToken: boolean }[] };
    expect(report.sessions[0]).toMatchObject({ subject: 'alice', hasRefreshToken: true });

    const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.subject === 'alice')).toBe(true);
  });
});

describe.skipIf(!hasSessionBus)('a Cognito + AgentCore shaped profile in the real keychain', () => {
  it('stores a profile key longer than 200 characters under a digest and a second process finds it; cache clear removes it and the key index', async () => {
    // AgentCore gateway URLs are ~110 characters: https://<gateway-id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp
    const gatewayPath = '/gw-mcpkeybridge-0123456789abcdef.gateway.bedrock-agentcore.eu-central-1.amazonaws.com/mcp';
    const scope = 'openid agentcore-gateway-resource-server/invoke';
    const lab = await startOAuthLab(cleanups, {
      gateway: { path: gatewayPath },
      idp: {
        cognitoLike: true,
        scopes: ['agentcore-gateway-resource-server/invoke'],
        staticClients: [
          {
            client_id: '4f3kq1n2p6s8u0w2y4a6c8e0g2',
            application_type: 'native',
            redirect_uris: ['http://127.0.0.1:48765/callback'],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          },
        ],
      },
      jwt: { scopesSupported: ['agentcore-gateway-resource-server/invoke'] },
    });
    const ws = await workspace(cleanups);
    const profile = [
      lab.gateway.url,
      '--client-id', '4f3kq1n2p6s8u0w2y4a6c8e0g2', '--no-resource', '--assume-pkce-s256',
      '--callback-port', '48765', '--scope', scope,
    ];
    const login = startBridge(cleanups, ['login', ...profile], ws);
    expect(await login.exited, login.stderr()).toBe(0);
    expect(login.stderr()).toContain('alice');

    const store = await cliKeychain();
    const key = (await store.list()).find((k) => k.startsWith(`session:${lab.gateway.url}`));
    expect(key).toBeDefined();
    expect(key!.length).toBeGreaterThan(200);

    // A second process (the bridge an IDE starts) finds the session: no browser.
    const bridge = startBridge(cleanups, profile, ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect((await whoami(client)).sub).toBe('alice');
    expect(launches(ws)).toHaveLength(1);
    await client.close();

    const indexFiles = (): string[] => (existsSync(ws.home) ? readdirSync(ws.home).filter((n) => n.endsWith('.keys.json')) : []);
    expect(indexFiles()).toHaveLength(1);
    const clear = startBridge(cleanups, ['cache', 'clear', '--yes'], ws);
    expect(await clear.exited, clear.stderr()).toBe(0);
    expect((await store.list()).filter((k) => k === key)).toEqual([]);
    expect(indexFiles()).toEqual([]);
  });
});

/**
 * The other ways in through the BUILT CLI (bridge and `login`), against the lab on 127.0.0.1,
 * with --token-store file in a private MCP_KEYBRIDGE_HOME.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/auth.grants.cli.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { completeDeviceLogin } from '../../scripts/lab/scriptedLogin.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import { launches, sdkClient, startBridge, startOAuthLab, whoami, workspace, type Cleanup } from './harness/signinWorkspace.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('--use-id-token (bridge)', () => {
  it('signs in with openid and the gateway that accepts only ID tokens sees one', async () => {
    const lab = await startOAuthLab(cleanups, { jwt: { acceptIdToken: true } });
    const ws = await workspace(cleanups);
    const bridge = startBridge(cleanups, [lab.gateway.url, '--use-id-token', '--token-store', 'file'], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    const me = await whoami(client);
    expect(me).toMatchObject({ sub: 'alice', token_kind: 'id' });
    expect(launches(ws)).toHaveLength(1);
    expect(lab.idp.record.authorizationRequests[0]!.scope!.split(' ')).toContain('openid');
    assertStdoutIsJsonRpc(bridge.stdout());
  });
});

/** Poll cond every 50 ms (bounded) until it returns a value. */
async function waitFor<T>(what: string, cond: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  for (let i = 0; i < timeoutMs / 50; i++) {
    const v = cond();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('--grant device (login and bridge)', () => {
  it('login prints the URL and code on stderr and opens no browser; the bridge then uses that session; a bridge alone signs in the same way', async () => {
    const lab = await startOAuthLab(cleanups, { idp: { deviceInterval: 1 } });
    const ws = await workspace(cleanups);
    const login = startBridge(cleanups, ['login', lab.gateway.url, '--grant', 'device', '--token-store', 'file'], ws);
    const m = await waitFor('the code on stderr', () => /open (\S+) on any device and enter the code: (\S+)/.exec(login.stderr())).catch((e: Error) => {
      throw new Error(`${e.message}; stderr:\n${login.stderr()}`);
    });
    await completeDeviceLogin(m[1]!, m[2]!);
    expect(await login.exited).toBe(0);
    expect(login.stdout()).toBe('');
    expect(login.stderr()).toContain(`signed in to ${lab.gateway.url}`);
    expect(launches(ws)).toHaveLength(0);

    const bridge = startBridge(cleanups, [lab.gateway.url, '--grant', 'device', '--token-store', 'file'], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect((await whoami(client)).sub).toBe('alice');
    expect(lab.idp.record.tokenRequests.filter((r) => r.grant_type.endsWith('device_code')).length).toBeGreaterThanOrEqual(1);
    await client.close();

    // A bridge with no stored session signs in by itself, printing the code on stderr only.
    const ws2 = await workspace(cleanups);
    const fresh = startBridge(cleanups, [lab.gateway.url, '--grant', 'device', '--token-store', 'file'], ws2);
    const client2 = sdkClient(cleanups);
    const connecting = client2.connect(fresh.transport());
    const m2 = await waitFor('the code on the bridge stderr', () => /open (\S+) on any device and enter the code: (\S+)/.exec(fresh.stderr()));
    await completeDeviceLogin(m2[1]!, m2[2]!);
    await connecting;
    expect((await whoami(client2)).sub).toBe('alice');
    expect(launches(ws2)).toHaveLength(0);
    assertStdoutIsJsonRpc(fresh.stdout());
  });
});

describe('--grant client-credentials (login, status, bridge)', () => {
  it('login stores machine access with the secret from the environment; status shows it as such; the bridge needs no browser and no secret', async () => {
    const lab = await startOAuthLab(cleanups);
    const ws = await workspace(cleanups, { extraEnv: { LAB_SERVICE_SECRET: lab.idp.serviceClient.clientSecret } });
    const profile = ['--grant', 'client-credentials', '--client-id', lab.idp.serviceClient.clientId, '--token-store', 'file'];
    const login = startBridge(cleanups, ['login', lab.gateway.url, ...profile, '--client-secret-env', 'LAB_SERVICE_SECRET'], ws);
    expect(await login.exited).toBe(0);
    expect(login.stderr()).toContain('Machine access');
    expect(login.stderr()).not.toContain(lab.idp.serviceClient.clientSecret);

    const status = startBridge(cleanups, ['status', '--json', '--token-store', 'file'], ws);
    expect(await status.exited).toBe(0);
    const doc = JSON.parse(status.stdout()) as { sessions: { key: string; grant: string; clientId: string; hasRefreshToken: boolean }[] };
    expect(doc.sessions).toHaveLength(1);
    expect(doc.sessions[0]).toMatchObject({ grant: 'client_credentials', clientId: 'lab-service', hasRefreshToken: false });
    expect(doc.sessions[0]!.key.startsWith('machine:')).toBe(true);
    expect(status.stdout()).not.toContain(lab.idp.serviceClient.clientSecret);

    // The bridge (no --client-secret-env) uses the stored machine session; no browser is ever opened.
    const env = { ...ws.env, LAB_SERVICE_SECRET: '' };
    const bridge = startBridge(cleanups, [lab.gateway.url, ...profile], { ...ws, env });
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toMatchObject({ content: [{ text: '42' }] });
    expect(launches(ws)).toHaveLength(0);
    expect(lab.idp.record.tokenRequests.filter((r) => r.grant_type === 'client_credentials')).toHaveLength(1);
    await client.close();

    // A user profile for the same gateway does not see the machine session (it would sign in in the browser).
    const userStatus = startBridge(cleanups, ['status', lab.gateway.url, '--token-store', 'file', '--client-id', 'lab-service'], ws);
    expect(await userStatus.exited).toBe(4);
  });
});

describe('Cognito-like authorization server (bridge, documented flags)', () => {
  it('signs in with --client-id, --no-resource, --assume-pkce-s256 and a pre-registered --callback-port', async () => {
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const lab = await startOAuthLab(cleanups, {
      idp: {
        cognitoLike: true,
        staticClients: [
          {
            client_id: 'kb-cognito-app',
            application_type: 'native',
            redirect_uris: [`http://127.0.0.1:${port}/callback`],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
          },
        ],
      },
    });
    const ws = await workspace(cleanups);
    const args = [lab.gateway.url, '--client-id', 'kb-cognito-app', '--no-resource', '--assume-pkce-s256', '--callback-port', String(port), '--token-store', 'file'];
    const bridge = startBridge(cleanups, args, ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect((await whoami(client)).sub).toBe('alice');
    expect(launches(ws)).toHaveLength(1);
    expect(new URL(launches(ws)[0]!.url).searchParams.get('resource')).toBeNull();
    expect(lab.idp.record.registrations).toHaveLength(0);
    expect(bridge.stderr()).toContain('does not advertise PKCE methods; assuming S256');
    assertStdoutIsJsonRpc(bridge.stdout());
  });
});

describe('--client-key-file (login)', () => {
  it('machine access with a PEM private key; a file that is not a key is a usage error', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { writeFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const lab = await startOAuthLab(cleanups, {
      idp: {
        staticClients: [
          {
            client_id: 'kb-machine-pkjwt',
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'private_key_jwt',
            jwks: { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), use: 'sig' }] },
          },
        ],
      },
    });
    const ws = await workspace(cleanups);
    const keyFile = path.join(path.dirname(ws.home), 'machine.pem');
    await writeFile(keyFile, rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
    const profile = ['--grant', 'client-credentials', '--client-id', 'kb-machine-pkjwt', '--token-store', 'file'];
    const login = startBridge(cleanups, ['login', lab.gateway.url, ...profile, '--client-key-file', keyFile], ws);
    expect(await login.exited).toBe(0);
    expect(lab.idp.record.tokenRequests.at(-1)).toMatchObject({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });

    const notAKey = path.join(path.dirname(ws.home), 'not-a-key.pem');
    await writeFile(notAKey, 'hello\n');
    const bad = startBridge(cleanups, ['login', lab.gateway.url, ...profile, '--client-key-file', notAKey, '--force'], ws);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('not a PEM or JWK private key');
  });
});

describe('--enterprise-idp (bridge, cross-app access)', () => {
  it('the user signs in at the enterprise IdP; the bridge gets its MCP token through an ID-JAG', async () => {
    const { startIdp } = await import('../../scripts/lab/idp.js');
    const { TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT } = await import('../../scripts/lab/idpCrossAppAccess.js');
    const enterprise = await startIdp({
      resource: 'http://127.0.0.1:9/enterprise-apps',
      issueIdJag: { resourceClientId: 'kb-mcp-client' },
      staticClients: [
        {
          client_id: 'kb-enterprise',
          application_type: 'native',
          redirect_uris: ['http://127.0.0.1/callback'],
          grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      ],
    });
    cleanups.push(() => enterprise.close());
    const lab = await startOAuthLab(cleanups, {
      idp: {
        trustIdJagFrom: { issuer: enterprise.issuer, jwksUri: enterprise.jwksUri },
        staticClients: [{ client_id: 'kb-mcp-client', grant_types: [JWT_BEARER_GRANT], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' }],
      },
    });
    const ws = await workspace(cleanups);
    const args = [lab.gateway.url, '--client-id', 'kb-mcp-client', '--enterprise-idp', enterprise.issuer, '--enterprise-client-id', 'kb-enterprise', '--token-store', 'file'];
    const bridge = startBridge(cleanups, args, ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect((await whoami(client)).sub).toBe('alice');
    expect(launches(ws)).toHaveLength(1);
    expect(new URL(launches(ws)[0]!.url).origin).toBe(new URL(enterprise.issuer).origin);
    expect(lab.idp.record.idJagsRedeemed).toHaveLength(1);
    expect(lab.idp.record.authorizationRequests).toHaveLength(0);
    assertStdoutIsJsonRpc(bridge.stdout());
  });
});

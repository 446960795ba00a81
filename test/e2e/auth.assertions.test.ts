/**
 * Client assertions at the library level against the lab (oidc-provider + SDK gateway):
 * private_key_jwt client authentication (RFC 7523) and enterprise-managed authorization
 * (cross-app access, ID-JAG). The other grants: auth.grants.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/auth.assertions.test.ts
 */
import { describe, expect, it } from 'vitest';
import { createAuthSession } from '../../src/auth/authSession.js';
import type { KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { makeDeps } from './harness/authDeps.js';
import { authOptions as options, freePort, initializeStatus as initialize, oauthLab, requestWithAuth, useAuthLab } from './harness/authLab.js';
import { jwtClaims } from './harness/signinWorkspace.js';

const { cleanups, lab, tempLockDir, user } = useAuthLab();

describe('private_key_jwt client authentication (RFC 7523)', () => {
  it('client credentials with a PEM key, and a browser sign-in plus refresh with a JWK key; the IdP verifies each assertion', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecKid = 'kb-ec-1';
    const port = await freePort();
    const l = await lab({
      accessTokenTtl: 300,
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
          {
            client_id: 'kb-app-pkjwt',
            application_type: 'native',
            redirect_uris: [`http://127.0.0.1:${port}/callback`],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'private_key_jwt',
            jwks: { keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: ecKid, use: 'sig' }] },
          },
        ],
      },
    });
    const lockDir = await tempLockDir();
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const machine = createAuthSession({
      options: options(l.gateway.url, { grant: 'client-credentials', clientId: 'kb-machine-pkjwt', clientKey: { text: pem, source: 'machine.pem' } }),
      deps: makeDeps().deps,
      store: new MemoryStore(),
      lockDir,
    });
    expect(await requestWithAuth(machine, l.gateway.url)).toBe(200);
    const cc = l.idp.record.tokenRequests.at(-1)!;
    expect(cc.grant_type).toBe('client_credentials');
    expect(cc.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(jwtClaims(cc.client_assertion!)).toMatchObject({ iss: 'kb-machine-pkjwt', sub: 'kb-machine-pkjwt' });
    expect((await machine.currentSession())?.tokenEndpointAuthMethod).toBe('private_key_jwt');

    // The wrong key is refused by the IdP.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const wrong = createAuthSession({
      options: options(l.gateway.url, { grant: 'client-credentials', clientId: 'kb-machine-pkjwt', clientKey: { text: other, source: 'other.pem' } }),
      deps: makeDeps().deps,
      store: new MemoryStore(),
      lockDir,
    });
    expect(((await wrong.authorizationHeader().catch((e: unknown) => e)) as KeybridgeError).code).toBe('oauth_invalid_client');

    // A confidential app client with a JWK private key: the code exchange and the refresh both carry an assertion.
    const jwk = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: ecKid });
    const t = makeDeps(user);
    const app = createAuthSession({
      options: options(l.gateway.url, {
        clientId: 'kb-app-pkjwt',
        clientKey: { text: jwk, source: 'app.jwk' },
        callbackPort: port,
        scope: 'openid offline_access mcp:tools',
        authorizeParams: { prompt: 'consent' },
      }),
      deps: t.deps,
      store: new MemoryStore(),
      lockDir,
    });
    const signedIn = await app.signIn();
    expect(signedIn.tokenEndpointAuthMethod).toBe('private_key_jwt');
    const exchange = l.idp.record.tokenRequests.at(-1)!;
    expect(exchange.grant_type).toBe('authorization_code');
    expect(exchange.client_assertion).toBeTruthy();
    expect(JSON.parse(Buffer.from(exchange.client_assertion!.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'ES256', kid: ecKid });
    t.advance(290_000);
    const header = await app.authorizationHeader();
    const refresh = l.idp.record.tokenRequests.at(-1)!;
    expect(refresh.grant_type).toBe('refresh_token');
    expect(refresh.client_assertion).toBeTruthy();
    expect(await initialize(l.gateway.url, header)).toBe(200);
    expect(t.logText()).not.toContain(jwk);
  });
});

describe('enterprise-managed authorization (cross-app access, ID-JAG)', () => {
  it('signs in at the enterprise IdP only, exchanges the ID token for an ID-JAG there, and redeems it at the MCP server\'s AS', async () => {
    const { startIdp } = await import('../../scripts/lab/idp.js');
    const { TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT, ID_JAG_TOKEN_TYPE } = await import('../../scripts/lab/idpCrossAppAccess.js');
    const port = await freePort();
    const enterprise = await startIdp({
      resource: 'http://127.0.0.1:9/enterprise-apps',
      issueIdJag: { resourceClientId: 'kb-mcp-client' },
      staticClients: [
        {
          client_id: 'kb-enterprise',
          application_type: 'native',
          redirect_uris: [`http://127.0.0.1:${port}/callback`],
          grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      ],
    });
    cleanups.push(() => enterprise.close());
    const l = await lab({
      idp: {
        trustIdJagFrom: { issuer: enterprise.issuer, jwksUri: enterprise.jwksUri },
        staticClients: [
          { client_id: 'kb-mcp-client', grant_types: [JWT_BEARER_GRANT], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' },
          { client_id: 'kb-other-client', grant_types: [JWT_BEARER_GRANT], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' },
        ],
      },
    });
    const t = makeDeps(user);
    const opts = options(l.gateway.url, { clientId: 'kb-mcp-client', callbackPort: port, enterprise: { issuer: enterprise.issuer, clientId: 'kb-enterprise' } });
    const session = createAuthSession({ options: opts, deps: t.deps, store: new MemoryStore(), lockDir: await tempLockDir() });
    expect(await requestWithAuth(session, l.gateway.url)).toBe(200);

    // The only browser step was at the enterprise IdP.
    expect(t.opened).toHaveLength(1);
    expect(new URL(t.opened[0]!).origin).toBe(new URL(enterprise.issuer).origin);
    expect(l.idp.record.authorizationRequests).toHaveLength(0);
    const exchange = enterprise.record.tokenRequests.find((r) => r.grant_type === TOKEN_EXCHANGE_GRANT)!;
    expect(exchange).toMatchObject({
      requested_token_type: ID_JAG_TOKEN_TYPE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: l.idp.issuer,
      resource: l.gateway.url,
    });
    expect(enterprise.record.idJagsIssued).toHaveLength(1);
    const redeem = l.idp.record.tokenRequests.find((r) => r.grant_type === JWT_BEARER_GRANT)!;
    expect(redeem.assertion).toBe(enterprise.record.idJagsIssued[0]);
    expect(redeem.resource).toBe(l.gateway.url);
    const stored = (await session.currentSession())!;
    expect(stored).toMatchObject({ grant: 'jwt_bearer', subject: 'alice', email: 'alice@example.test', clientId: 'kb-mcp-client', issuer: l.idp.issuer });
    expect(jwtClaims(stored.accessToken)).toMatchObject({ sub: 'alice', aud: l.gateway.url, iss: l.idp.issuer });
    expect(t.logText()).not.toContain(enterprise.record.idJagsIssued[0]!);

    // An ID-JAG names the client it is for: another client at the MCP server's AS cannot redeem it.
    const other = createAuthSession({
      options: options(l.gateway.url, { clientId: 'kb-other-client', callbackPort: port, enterprise: { issuer: enterprise.issuer, clientId: 'kb-enterprise' } }),
      deps: makeDeps(user).deps,
      store: new MemoryStore(),
      lockDir: await tempLockDir(),
    });
    const err = (await other.signIn().catch((e: unknown) => e)) as KeybridgeError;
    expect(err.code).toBe('oauth_invalid_grant');
    expect(err.message).toContain('ID-JAG');
  });
});

/**
 * The user-facing commands that sign in and out (login, status, token, revoke, logout, cache clear),
 * each run as the built CLI against the lab. File token store in a temp MCP_KEYBRIDGE_HOME, except
 * the keychain case, which needs the private Secret Service of scripts/with-keyring.sh. config and
 * doctor: commands.config.test.ts.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/commands.test.ts
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cli, FILE, hasSessionBus, launches, login, storedSession, tokenFile, useCommandWorld } from './harness/commandWorld.js';
import { usePrivateKeyring } from './harness/labFleet.js';

const { cleanups, world, bridgeCallsTool } = useCommandWorld();

describe('login, status, token', () => {
  it('login signs in once; the bridge then starts without opening a browser and calls a tool', async () => {
    const w = await world();
    const r = await login(w);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Signed in`);
    expect(r.stderr).toContain(`Issuer: ${w.lab.idp.issuer}`);
    expect(r.stderr).toMatch(/Access token: expires in \d+ min \(\d{4}-\d\d-\d\dT/);
    expect(await launches(w)).toBe(1);

    await bridgeCallsTool(w);
    expect(await launches(w)).toBe(1);

    const again = await login(w);
    expect(again.stderr).toContain('Already signed in');
    expect(await launches(w)).toBe(1);
    const session = await storedSession(w);
    for (const out of [r, again]) {
      expect(out.stderr).not.toContain(session.accessToken);
      expect(out.stderr).not.toContain(session.refreshToken);
    }
  });

  it('login shows who signed in when an ID token is issued', async () => {
    const w = await world();
    const r = await login(w, ['--scope', 'openid email profile mcp:tools']);
    expect(r.stderr).toContain('Signed in as alice (alice@example.test, Alice)');
    expect(r.stderr).toContain('Scopes: openid email profile mcp:tools');
  });

  it('status --json describes the session and never contains a token value', async () => {
    const w = await world();
    await login(w);
    const session = await storedSession(w);
    const registration = Object.entries(await tokenFile(w)).find(([k]) => k.startsWith('client:'))?.[1];

    const json = await cli(['status', '--json', ...FILE], w.env);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as Record<string, any>;
    expect(doc).toMatchObject({ version: 1, store: { kind: 'file' }, errors: [] });
    expect(doc.sessions).toHaveLength(1);
    expect(doc.sessions[0]).toMatchObject({
      key: `session:${w.url}`,
      server: w.url,
      issuer: w.lab.idp.issuer,
      clientId: session.clientId,
      clientSource: 'dynamic',
      scopes: ['mcp:tools', 'offline_access'],
      state: 'valid',
      hasRefreshToken: true,
      store: { kind: 'file' },
    });
    expect(Date.parse(doc.sessions[0].accessTokenExpiresAt)).toBe(session.expiresAt);
    expect(doc.sessions[0].accessTokenExpiresIn).toBeGreaterThan(0);

    const text = await cli(['status', w.url, ...FILE], w.env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Refresh token: held');
    for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
      for (const secret of [session.accessToken, session.refreshToken, session.idToken, registration?.clientSecret]) {
        if (typeof secret === 'string') expect(out).not.toContain(secret);
      }
    }

    const other = await cli(['status', 'http://127.0.0.1:1/mcp', '--json', ...FILE], w.env);
    expect(other.code).toBe(4);
    expect(JSON.parse(other.stdout).sessions).toEqual([]);
  });

  it('token prints only a token, and the gateway accepts it; without a session it exits 4 and says to log in', async () => {
    const w = await world();
    const none = await cli(['token', w.url, ...FILE], w.env);
    expect(none.code).toBe(4);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`mcp-keybridge login ${w.url} --token-store file`);
    expect(await launches(w)).toBe(0);

    await login(w);
    const r = await cli(['token', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9._~+/=-]+\n$/);
    const token = r.stdout.trim();

    const client = new Client({ name: 'token-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(w.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ type: 'text', text: '3' }] });
  });
});

describe('revoke, logout, cache clear', () => {
  it('revoke ends the refresh token at the identity provider, removes the session, and the next bridge signs in again', async () => {
    const w = await world();
    await login(w);
    const { refreshToken } = await storedSession(w);
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(true);

    const r = await cli(['revoke', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/✓ refresh token: revoked/);
    expect(r.stderr).toMatch(/access token: /);
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(false);
    expect(w.lab.idp.record.revocations.map((x) => x.token_type_hint)).toEqual(['refresh_token', 'access_token']);
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
    expect(r.stderr).not.toContain(refreshToken);

    await bridgeCallsTool(w);
    expect(await launches(w)).toBe(2);

    const again = await cli(['revoke', 'http://127.0.0.1:1/mcp', ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to revoke');
  });

  it('revoke still removes the session locally when the identity provider is down, and exits 1', async () => {
    const w = await world();
    await login(w);
    await w.lab.idp.close();
    const r = await cli(['revoke', w.url, ...FILE], w.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ refresh token: .*cannot reach/);
    expect(r.stderr).toContain('removed the session');
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
  });

  it('logout removes local state only: the refresh token stays active at the identity provider', async () => {
    const w = await world();
    await login(w);
    const { refreshToken } = await storedSession(w);
    const r = await cli(['logout', w.url, ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('revoke');
    expect((await tokenFile(w))[`session:${w.url}`]).toBeUndefined();
    expect((await w.lab.idp.introspect(refreshToken)).active).toBe(true);
    expect(w.lab.idp.record.revocations).toEqual([]);
    const again = await cli(['logout', w.url, ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to remove');
  });

  it('cache clear refuses without --yes when not in a terminal, then removes everything and is idempotent', async () => {
    const w = await world();
    await login(w);
    const before = Object.keys(await tokenFile(w));
    expect(before.some((k) => k.startsWith('client:'))).toBe(true);

    const refused = await cli(['cache', 'clear', ...FILE], w.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(Object.keys(await tokenFile(w))).toEqual(before);

    // Files the tool never writes, under names close to its own: `cache clear` must leave them.
    const home = w.env.MCP_KEYBRIDGE_HOME!;
    const foreign = [path.join('logs', 'keep.txt'), path.join('locks', 'someone-else.lock'), path.join('locks', 'notes.txt')];
    for (const f of foreign) {
      await mkdir(path.dirname(path.join(home, f)), { recursive: true });
      await writeFile(path.join(home, f), 'not mcp-keybridge\n');
    }
    const r = await cli(['cache', 'clear', '--yes', ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    for (const key of before) expect(r.stdout).toContain(key);
    const session = await tokenFile(w);
    expect(session).toEqual({});
    const left = (await readdir(home, { recursive: true })).filter((f) => !['logs', 'locks'].includes(f));
    expect(left.sort()).toEqual([...foreign].sort());
    for (const f of foreign) await rm(path.join(home, f));

    const again = await cli(['cache', 'clear', '--yes', ...FILE], w.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('Nothing to remove');
  });

  it('cache clear <url> removes only that profile', async () => {
    const w = await world();
    await login(w);
    await login(w, ['--scope', 'openid mcp:tools']);
    const r = await cli(['cache', 'clear', w.url, '--yes', ...FILE], w.env);
    expect(r.code, r.stderr).toBe(0);
    const keys = Object.keys(await tokenFile(w));
    expect(keys).not.toContain(`session:${w.url}`);
    // The other profile and the client registration it shares stay.
    expect(keys).toContain(`session:${w.url}#scope=mcp%3Atools+openid`);
    expect(keys.some((k) => k.startsWith('client:'))).toBe(true);
  });

  it.skipIf(!hasSessionBus)('cache clear with the real keychain removes every entry of ours and nothing else', async () => {
    // A Secret Service of its own: `cache clear` without a URL empties the whole "mcp-keybridge"
    // service, which other test files running in parallel use in the shared one.
    const privateKeyring = await usePrivateKeyring();
    cleanups.push(() => privateKeyring.stop());
    const keyring = await import('@napi-rs/keyring');
    const pin = { linux: { store: 'secret-service' as const } };
    const w = await world();
    const unrelated = new keyring.AsyncEntry('mcp-keybridge-unrelated', 'someone', pin);
    await unrelated.setPassword('not ours');
    cleanups.push(() => unrelated.deleteCredential());

    const r = await cli(['login', w.url, '--token-store', 'keychain'], w.env);
    expect(r.code, r.stderr).toBe(0);
    await bridgeCallsTool(w, ['--token-store', 'keychain']);
    expect(await launches(w)).toBe(1);
    expect((await keyring.findCredentialsAsync('mcp-keybridge')).length).toBeGreaterThan(0);

    const cleared = await cli(['cache', 'clear', '--yes', '--token-store', 'keychain'], w.env);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain(`keychain entry session:${w.url}`);
    expect(await keyring.findCredentialsAsync('mcp-keybridge')).toEqual([]);
    const search = await new Promise<string>((resolve) =>
      execFile('secret-tool', ['search', '--all', 'service', 'mcp-keybridge'], { timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`)),
    );
    expect(search).not.toMatch(/^attribute\.service = mcp-keybridge$/m);
    expect(await unrelated.getPassword()).toBe('not ours');

    const again = await cli(['cache', 'clear', '--yes', '--token-store', 'keychain'], w.env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('Nothing to remove');
  });
});

/**
 * Step-up authorization (MCP authorization spec, "Scope Challenge Handling"): a 403 with
 * error="insufficient_scope" leads to one new authorization for the union of held and demanded
 * scopes and one replay; a gateway that keeps refusing, or a user who declines, ends with a clear
 * error and no loop.
 *
 *   npx tsc -p tsconfig.json && bash scripts/with-keyring.sh npx vitest run test/e2e/auth.stepup.test.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { completeLogin } from '../../scripts/lab/scriptedLogin.js';
import { createAuthSession } from '../../src/auth/authSession.js';
import { AuthRefusedError, type KeybridgeError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { makeDeps } from './harness/authDeps.js';
import { assertStdoutIsJsonRpc } from './harness/bridgeProcess.js';
import { jwtClaims, launches, sdkClient, startBridge, startOAuthLab, whoami, workspace, type Cleanup } from './harness/signinWorkspace.js';

const cleanups: Cleanup[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const scopesOf = (s: string | undefined): string[] => (s ?? '').split(' ').filter(Boolean).sort();
/** The scopes of the resource, without the authorization server's offline_access (SEP-2207). */
const resourceScopes = (s: string | undefined): string[] => scopesOf(s).filter((x) => x !== 'offline_access');

describe('step-up on 403 insufficient_scope (built CLI, lab gateway)', () => {
  it('re-authorizes once for the union of scopes and replays; a demand the IdP will not grant ends in a clear error, no loop', async () => {
    // whoami needs mcp:admin (the IdP grants it); echo needs mcp:root (the IdP does not know it).
    const lab = await startOAuthLab(cleanups, { jwt: { toolScopes: { whoami: 'mcp:admin', echo: 'mcp:root' } } });
    const ws = await workspace(cleanups);
    const bridge = startBridge(cleanups, [lab.gateway.url, '--token-store', 'file'], ws);
    const client = sdkClient(cleanups);
    await client.connect(bridge.transport());
    expect(launches(ws)).toHaveLength(1); // the first sign-in, on the 401
    // offline_access: the authorization server lists it (SEP-2207); it is not a scope of the resource.
    expect(lab.idp.record.authorizationRequests.at(-1)!.scope).toBe('mcp:tools offline_access');

    // First call of a tool that demands more: exactly one more authorization, for the union.
    const me = await whoami(client);
    expect(launches(ws)).toHaveLength(2);
    // (A reused registration is checked with PAR, so the scope asked for shows in what was granted.)
    expect(resourceScopes(lab.idp.record.tokenResponses.at(-1)!.scope)).toEqual(['mcp:admin', 'mcp:tools']);
    expect(scopesOf(me.scope as string)).toEqual(expect.arrayContaining(['mcp:admin', 'mcp:tools']));
    expect(lab.gateway.record.toolCalls.filter((c) => c.name === 'whoami')).toHaveLength(1);
    // The stepped-up token keeps working for the tools that needed less.
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ text: '3' }] });
    expect(launches(ws)).toHaveLength(2);

    // A demand that is refused even after a step-up: one more authorization, then a JSON-RPC error.
    const postsBefore = lab.gateway.record.requests.filter((r) => r.method === 'POST').length;
    const err = await client.callTool({ name: 'echo', arguments: { text: 'hi' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('still refuses the request after a step-up sign-in');
    expect((err as Error).message).toContain('did not grant "mcp:root"');
    expect(launches(ws)).toHaveLength(3);
    const posts = lab.gateway.record.requests.filter((r) => r.method === 'POST').length - postsBefore;
    expect(posts).toBe(2); // the request and its one replay
    expect(lab.gateway.record.toolCalls.filter((c) => c.name === 'echo')).toHaveLength(0);

    // The bridge is still usable afterwards.
    expect((await whoami(client)).sub).toBe('alice');
    expect(launches(ws)).toHaveLength(3);
    assertStdoutIsJsonRpc(bridge.stdout());
  });
});

describe('step-up at the library level', () => {
  it('a user who presses Cancel on the step-up gets a clear error naming the permission', async () => {
    const lab = await startOAuthLab(cleanups, { jwt: { toolScopes: { whoami: 'mcp:admin' } } });
    const lockDir = await mkdtemp(path.join(tmpdir(), 'kb-stepup-locks-'));
    cleanups.push(() => rm(lockDir, { recursive: true, force: true }));
    let logins = 0;
    const t = makeDeps(async (url) => {
      logins++;
      await completeLogin(url, { deny: logins > 1 });
    });
    const session = createAuthSession({
      options: { serverUrl: new URL(lab.gateway.url), authTimeoutMs: 20_000, interactive: true },
      deps: t.deps,
      store: new MemoryStore(),
      lockDir,
    });
    const first = await session.signIn();
    const err = await session
      .handleChallenge({ status: 403, wwwAuthenticate: 'Bearer error="insufficient_scope", scope="mcp:tools mcp:admin"' }, 1)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect((err as KeybridgeError).code).toBe('step_up_declined');
    expect((err as Error).message).toContain('"mcp:tools mcp:admin"');
    expect((err as Error).message).toContain('declined');
    expect(t.opened).toHaveLength(2);
    // The held session is untouched: the tools that need less keep working.
    expect((await session.currentSession())?.accessToken).toBe(first.accessToken);
    expect(resourceScopes(jwtClaims(first.accessToken).scope as string)).toEqual(['mcp:tools']);
  });
});

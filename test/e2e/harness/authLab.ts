/**
 * Helpers of the library-level sign-in and grant tests (auth.signin, auth.session, auth.grants,
 * auth.assertions): the OAuth lab, a lock folder, AuthOptions, and the MCP initialize the tests send
 * to see a token accepted or refused.
 * Everything a helper starts is pushed on the caller's cleanups (run by its afterEach).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../../scripts/lab/lab.js';
import { completeLogin, type CompleteLoginOptions } from '../../../scripts/lab/scriptedLogin.js';
import type { AuthSession } from '../../../src/auth/authSession.js';
import type { AuthOptions } from '../../../src/auth/options.js';
import type { StoredSession } from '../../../src/auth/tokenSet.js';
import { makeDeps, type Browser, type TestDeps } from './authDeps.js';

export type Cleanups = (() => Promise<unknown>)[];
export type OAuthLab = Lab & Required<Pick<Lab, 'idp'>>;

/**
 * For a test file's top level: its cleanups, run after each test, and the helpers that push on them
 * (a lab, a lock folder), with the scripted user who signs in on the lab's login page.
 */
export function useAuthLab(): { cleanups: Cleanups; lab: (opts?: LabOptions) => Promise<OAuthLab>; tempLockDir: () => Promise<string>; user: (url: string) => Promise<void> } {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  });
  return {
    cleanups,
    lab: (opts = {}) => oauthLab(cleanups, opts),
    tempLockDir: () => tempLockDir(cleanups),
    user: scriptedUser(),
  };
}

/** The lab with its identity provider. */
export async function oauthLab(cleanups: Cleanups, opts: LabOptions = {}): Promise<OAuthLab> {
  const l = await startLab({ auth: 'oauth', ...opts });
  cleanups.push(() => l.close());
  if (!l.idp) throw new Error('lab without idp');
  return l as OAuthLab;
}

export async function tempLockDir(cleanups: Cleanups): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-auth-locks-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function authOptions(serverUrl: string, extra: Partial<AuthOptions> = {}): AuthOptions {
  return { serverUrl: new URL(serverUrl), authTimeoutMs: 20_000, interactive: true, ...extra };
}

/** A free port a moment ago (for a client registered with a fixed redirect URI). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'grants-e2e', version: '1' } } });

/** One MCP initialize against the gateway with this Authorization header: its status and WWW-Authenticate. */
export async function initializeResponse(url: string, authorization?: string): Promise<{ status: number; wwwAuthenticate: string | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(url, { method: 'POST', headers, body: INITIALIZE, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** One MCP initialize against the gateway with this Authorization header: the HTTP status. */
export async function initializeStatus(url: string, authorization?: string): Promise<number> {
  return (await initializeResponse(url, authorization)).status;
}

/** As the remote transport does: on 401/403 let the session handle it, then replay (bounded). */
export async function requestWithAuth(session: AuthSession, url: string): Promise<number> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await initializeResponse(url, await session.authorizationHeader());
    if (r.status !== 401 && r.status !== 403) return r.status;
    await session.handleChallenge({ status: r.status, wwwAuthenticate: r.wwwAuthenticate }, attempt);
  }
  throw new Error('unreachable: the session should have thrown');
}

/** A user who completes the lab login whenever the flow opens a browser. */
export const scriptedUser =
  (opts: CompleteLoginOptions = {}): Browser =>
  async (url) => {
    await completeLogin(url, opts);
  };

/** Test deps whose browser is, by default, the scripted user. */
export const signinDeps = (browser: Browser = scriptedUser()): TestDeps => makeDeps(browser);

/** None of the session's tokens appears in the log. */
export function assertNoSecrets(logText: string, session: StoredSession | undefined): void {
  expect(session).toBeDefined();
  for (const secret of [session!.accessToken, session!.refreshToken, session!.idToken]) {
    if (secret) expect(logText).not.toContain(secret);
  }
}

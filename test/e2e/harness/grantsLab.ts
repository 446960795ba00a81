/**
 * Helpers of the library-level grant tests (auth.grants, auth.assertions): the OAuth lab, a lock
 * folder, AuthOptions, and the MCP initialize the tests send to see a token accepted or refused.
 * Everything a helper starts is pushed on the caller's cleanups (run by its afterEach).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../../scripts/lab/lab.js';
import { completeLogin } from '../../../scripts/lab/scriptedLogin.js';
import type { AuthSession } from '../../../src/auth/authSession.js';
import type { AuthOptions } from '../../../src/auth/options.js';

export type Cleanups = (() => Promise<unknown>)[];
export type OAuthLab = Lab & Required<Pick<Lab, 'idp'>>;

/**
 * For a test file's top level: its cleanups, run after each test, and the helpers that push on them
 * (a lab, a lock folder), with the scripted user who signs in on the lab's login page.
 */
export function useGrantsLab(): { cleanups: Cleanups; lab: (opts?: LabOptions) => Promise<OAuthLab>; tempLockDir: () => Promise<string>; user: (url: string) => Promise<void> } {
  const cleanups: Cleanups = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  });
  return {
    cleanups,
    lab: (opts = {}) => oauthLab(cleanups, opts),
    tempLockDir: () => tempLockDir(cleanups),
    user: async (url) => {
      await completeLogin(url);
    },
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
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-grants-locks-'));
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

async function postInitialize(url: string, authorization: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(url, { method: 'POST', headers, body: INITIALIZE, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  return res;
}

/** One MCP initialize against the gateway with this Authorization header: the HTTP status. */
export async function initializeStatus(url: string, authorization?: string): Promise<number> {
  return (await postInitialize(url, authorization)).status;
}

/** As the remote transport does: on 401/403 let the session handle it, then replay (bounded). */
export async function requestWithAuth(session: AuthSession, url: string): Promise<number> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const res = await postInitialize(url, await session.authorizationHeader());
    if (res.status !== 401 && res.status !== 403) return res.status;
    await session.handleChallenge({ status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') }, attempt);
  }
  throw new Error('unreachable: the session should have thrown');
}

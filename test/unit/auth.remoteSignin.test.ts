/** Pure logic of the remote sign-in: judging pasted lines, detecting SSH/containers/WSL, the WSL browser argv. */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBrowserOpener } from '../../src/auth/browser.js';
import { judgePastedLine, readPastedRedirect } from '../../src/auth/pastedRedirect.js';
import { detectRemoteEnvironment, signInEnvironmentCheck, wslOpenArgv, WSL_RUNDLL32, type EnvironmentProbe } from '../../src/auth/remoteEnvironment.js';
import { Logger } from '../../src/log/logger.js';

const redirectUri = 'http://127.0.0.1:41234/callback';
const expectedState = 'S-expected';

describe('judgePastedLine', () => {
  it('accepts the full URL, its query, or code/state separated by spaces, always rebuilt on our redirect_uri', () => {
    for (const line of [
      `http://127.0.0.1:41234/callback?code=C1&state=${expectedState}&iss=https%3A%2F%2Fidp`,
      `  http://localhost:9/elsewhere?code=C1&state=${expectedState}&iss=https%3A%2F%2Fidp\r`,
      `?code=C1&state=${expectedState}&iss=https%3A%2F%2Fidp`,
      `code=C1 state=${expectedState} iss=https%3A%2F%2Fidp`,
    ]) {
      const v = judgePastedLine(line, { redirectUri, expectedState });
      expect(v.kind, line).toBe('callback');
      if (v.kind !== 'callback') continue;
      expect(`${v.url.origin}${v.url.pathname}`).toBe(redirectUri);
      expect(v.url.searchParams.get('code')).toBe('C1');
      expect(v.url.searchParams.get('iss')).toBe('https://idp');
    }
  });

  it('refuses a wrong or missing state, and lines that are not an authorization response', () => {
    expect(judgePastedLine(`${redirectUri}?code=C1&state=S-other`, { redirectUri, expectedState }).kind).toBe('wrong_state');
    expect(judgePastedLine(`${redirectUri}?code=C1`, { redirectUri, expectedState }).kind).toBe('unrecognised');
    expect(judgePastedLine('hello', { redirectUri, expectedState }).kind).toBe('unrecognised');
    expect(judgePastedLine('http://[bad', { redirectUri, expectedState }).kind).toBe('unrecognised');
    expect(judgePastedLine('   ', { redirectUri, expectedState }).kind).toBe('empty');
  });
});

describe('readPastedRedirect', () => {
  const quietLog = (): { log: Logger; lines: string[] } => {
    const lines: string[] = [];
    return { log: new Logger({ sink: { write: (s: string) => void lines.push(s) }, }), lines };
  };

  it('keeps the prompt open after a refused line and resolves on the right one (split across chunks)', async () => {
    const input = new PassThrough();
    const { log, lines } = quietLog();
    const reader = readPastedRedirect({ input, redirectUri, expectedState, log });
    input.write(`${redirectUri}?code=C1&state=wrong\n${redirectUri}?code=C2&st`);
    input.write(`ate=${expectedState}\n`);
    const url = await reader.result;
    expect(url.searchParams.get('code')).toBe('C2');
    expect(lines.join('')).toContain('its state does not match');
  });

  it('gives up after the bounded number of refused lines', async () => {
    const input = new PassThrough();
    const reader = readPastedRedirect({ input, redirectUri, expectedState, log: quietLog().log, maxAttempts: 3 });
    input.write('a\nb\nc\n');
    await expect(reader.result).rejects.toMatchObject({ code: 'pasted_redirect_refused' });
  });

  it('rejects on an error response that carries our state', async () => {
    const input = new PassThrough();
    const reader = readPastedRedirect({ input, redirectUri, expectedState, log: quietLog().log });
    input.write(`${redirectUri}?error=access_denied&state=${expectedState}\n`);
    await expect(reader.result).rejects.toMatchObject({ code: 'oauth_access_denied' });
  });
});

function probe(env: NodeJS.ProcessEnv, files: Record<string, string> = {}, platform: NodeJS.Platform = 'linux'): EnvironmentProbe {
  return { env, platform, exists: (p) => p in files, readText: (p) => files[p] };
}

describe('detectRemoteEnvironment', () => {
  it('finds SSH, containers and WSL by their signs, and nothing on a plain machine', () => {
    expect(detectRemoteEnvironment(probe({ SSH_CONNECTION: '10.0.0.2 5000 10.0.0.1 22' })).map((f) => f.kind)).toEqual(['ssh']);
    expect(detectRemoteEnvironment(probe({ SSH_TTY: '/dev/pts/1' })).map((f) => f.kind)).toEqual(['ssh']);
    expect(detectRemoteEnvironment(probe({}, { '/.dockerenv': '' })).map((f) => f.kind)).toEqual(['container']);
    expect(detectRemoteEnvironment(probe({}, { '/run/.containerenv': '' })).map((f) => f.kind)).toEqual(['container']);
    expect(detectRemoteEnvironment(probe({}, { '/proc/1/cgroup': '0::/kubepods/besteffort/pod1' })).map((f) => f.kind)).toEqual(['container']);
    expect(detectRemoteEnvironment(probe({ WSL_DISTRO_NAME: 'Ubuntu' })).map((f) => f.kind)).toEqual(['wsl']);
    expect(detectRemoteEnvironment(probe({}, { '/proc/version': 'Linux version 5.15.90.1-microsoft-standard-WSL2' })).map((f) => f.kind)).toEqual(['wsl']);
    expect(detectRemoteEnvironment(probe({}, { '/proc/1/cgroup': '0::/init.scope', '/proc/version': 'Linux version 6.1.0-18-amd64' }))).toEqual([]);
    expect(detectRemoteEnvironment(probe({ WSL_DISTRO_NAME: 'Ubuntu' }, { '/.dockerenv': '' }, 'darwin'))).toEqual([]);
  });

  it("doctor's line says which way to sign in", () => {
    expect(signInEnvironmentCheck(probe({ SSH_CONNECTION: 'x' })).detail).toContain('login <url> --no-browser');
    expect(signInEnvironmentCheck(probe({ WSL_DISTRO_NAME: 'Ubuntu' })).detail).toContain('Windows default browser');
    expect(signInEnvironmentCheck(probe({})).detail).toContain('local machine');
  });
});

describe('wslOpenArgv', () => {
  it('passes the URL as one argv element to rundll32 on the Windows mount, and gives up without the mount', () => {
    const href = 'https://idp.example/authorize?a=1&b=2&state=x';
    expect(wslOpenArgv(href, { exists: (p) => p === WSL_RUNDLL32 })).toEqual([WSL_RUNDLL32, 'url.dll,FileProtocolHandler', href]);
    expect(wslOpenArgv(href, { exists: () => false })).toBeUndefined();
  });
});

describe('createBrowserOpener on WSL', () => {
  it('spawns rundll32 directly (no shell) with the URL as one argument when $BROWSER is unset', async () => {
    const calls: { command: string; args: readonly string[]; shell: unknown }[] = [];
    const spawn = (command: string, args: readonly string[], options: { shell?: unknown }): ChildProcess => {
      calls.push({ command, args, shell: options.shell });
      const child = Object.assign(new EventEmitter(), { unref: () => undefined });
      setImmediate(() => child.emit('spawn'));
      return child as unknown as ChildProcess;
    };
    const wsl = probe({ WSL_DISTRO_NAME: 'Ubuntu' }, { [WSL_RUNDLL32]: '' });
    const open = createBrowserOpener({ env: wsl.env, log: new Logger({ sink: { write: () => undefined } }), platform: 'linux', probe: wsl, spawn, openUrl: () => Promise.reject(new Error('not this way')) });
    const href = 'https://idp.example/authorize?client_id=a&state=b';
    await open(href);
    expect(calls).toEqual([{ command: WSL_RUNDLL32, args: ['url.dll,FileProtocolHandler', href], shell: false }]);
  });
});

import { EventEmitter } from 'node:events';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createBrowserOpener, desktopOpenArgv } from '../../src/auth/browser.js';
import { browserEnvironment, extraBrowserEnvNames } from '../../src/auth/browserEnv.js';
import { Logger } from '../../src/log/logger.js';

const GOOD = 'https://idp.example.com/authorize?client_id=abc&state=xyz';

/** An environment as an IDE would start the bridge with: desktop variables and secrets side by side. */
const BRIDGE_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/u',
  DISPLAY: ':0',
  WAYLAND_DISPLAY: 'wayland-0',
  XDG_RUNTIME_DIR: '/run/user/1000',
  DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
  LANG: 'en_US.UTF-8',
  LC_ALL: 'C.UTF-8',
  SystemRoot: 'C:\\Windows',
  GITHUB_CLIENT_SECRET: 'cs-very-secret',
  MCP_GATEWAY_TOKEN: 'bearer-very-secret',
  LAB_BROWSER_LOG: '/tmp/launches.jsonl',
};

function fakeChild(): ChildProcess {
  const child = new EventEmitter() as ChildProcess;
  child.unref = () => child;
  queueMicrotask(() => child.emit('spawn'));
  return child;
}

describe('browserEnvironment', () => {
  it('passes the desktop variables and nothing else', () => {
    const env = browserEnvironment(BRIDGE_ENV);
    expect(Object.keys(env).sort()).toEqual(
      ['DBUS_SESSION_BUS_ADDRESS', 'DISPLAY', 'HOME', 'LANG', 'LC_ALL', 'PATH', 'SystemRoot', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR'].sort(),
    );
    expect(JSON.stringify(env)).not.toContain('very-secret');
  });

  it('adds exactly the variables MCP_KEYBRIDGE_BROWSER_ENV names', () => {
    const env = browserEnvironment({ ...BRIDGE_ENV, MCP_KEYBRIDGE_BROWSER_ENV: 'LAB_BROWSER_LOG, NOT_SET,$(x)' });
    expect(env.LAB_BROWSER_LOG).toBe('/tmp/launches.jsonl');
    expect('NOT_SET' in env).toBe(false);
    expect(JSON.stringify(env)).not.toContain('very-secret');
    expect([...extraBrowserEnvNames('A,b c;d $(x)')]).toEqual(['A', 'B']);
  });
});

describe('the opener spawns with the minimal environment', () => {
  const quiet = () => new Logger({ sink: { write: () => undefined } });
  const run = async (env: NodeJS.ProcessEnv, platform: NodeJS.Platform) => {
    const calls: { command: string; args: readonly string[]; options: SpawnOptions }[] = [];
    const open = createBrowserOpener({
      env,
      log: quiet(),
      platform,
      probe: { env: {}, platform, exists: () => false, readText: () => undefined },
      spawn: (command, args, options) => {
        calls.push({ command, args, options });
        return fakeChild();
      },
    });
    await open(GOOD);
    expect(calls).toHaveLength(1);
    return calls[0]!;
  };

  it('$BROWSER gets no secret from the bridge environment', async () => {
    const call = await run({ ...BRIDGE_ENV, BROWSER: 'my-browser' }, 'linux');
    expect(call.command).toBe('my-browser');
    expect(call.options.env).toBeDefined();
    expect(call.options.env!.DISPLAY).toBe(':0');
    expect(JSON.stringify(call.options.env)).not.toContain('very-secret');
  });

  it('the desktop opener (no $BROWSER) is spawned directly, URL as one argument, with the same environment', async () => {
    const call = await run(BRIDGE_ENV, 'darwin');
    expect([call.command, ...call.args]).toEqual(desktopOpenArgv(GOOD, 'darwin'));
    expect(call.args).toEqual([GOOD]);
    expect(JSON.stringify(call.options.env)).not.toContain('very-secret');
  });
});

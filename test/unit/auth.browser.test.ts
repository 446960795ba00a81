import { EventEmitter } from 'node:events';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { browserArgv, createBrowserOpener, validateBrowserUrl, windowsOpenArgv } from '../../src/auth/browser.js';
import { UnsafeServerError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';

const GOOD = 'https://as.example.com/authorize?client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&state=s1&code_challenge=c&code_challenge_method=S256';

describe('validateBrowserUrl', () => {
  it('accepts https and loopback http, returning the serialised URL', () => {
    expect(validateBrowserUrl(GOOD).href).toBe(GOOD);
    expect(validateBrowserUrl('http://127.0.0.1:8080/authorize?x=1').href).toBe('http://127.0.0.1:8080/authorize?x=1');
    expect(validateBrowserUrl('http://localhost:8080/a').hostname).toBe('localhost');
    expect(validateBrowserUrl('http://[::1]:8080/a').hostname).toBe('[::1]');
  });

  const hostile = [
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'http://evil.example/authorize',
    '-https://as.example.com/',
    '--new-window=https://as.example.com/',
    'https://as.example.com/a b',
    'https://as.example.com/\u0000',
    'https://as.example.com/\nnext',
    'https://as.example.com/?q=$(touch /tmp/pwned)',
    'https://as.example.com/?q=`id`',
    'https://as.example.com/?q=a;rm -rf',
    'https://as.example.com/?q="quoted"',
    "https://as.example.com/?q='single'",
    'https://as.example.com/?q=a|b',
    'https://as.example.com/?q=$env:USERPROFILE',
    'https://as.example.com/?q=${x}',
    'https://as.example.com/?q=a^b',
    'https://user:pw@as.example.com/',
    'https://as.example.com@evil.example/',
    'ms-settings:',
    'vbscript:msgbox(1)',
    'relative/path',
    '',
  ];
  for (const raw of hostile) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      expect(() => validateBrowserUrl(raw)).toThrow(UnsafeServerError);
    });
  }

  it('lets --allow-http open non-loopback http, nothing else', () => {
    expect(validateBrowserUrl('http://as.example.com/a', { allowHttp: true }).protocol).toBe('http:');
    expect(() => validateBrowserUrl('file:///etc/passwd', { allowHttp: true })).toThrow(UnsafeServerError);
  });
});

describe('browserArgv', () => {
  it('splits $BROWSER on whitespace and appends the URL as one argument', () => {
    expect(browserArgv('firefox --private-window', GOOD)).toEqual(['firefox', '--private-window', GOOD]);
  });
  it('replaces a %s token instead of appending', () => {
    expect(browserArgv('chromium %s --incognito', GOOD)).toEqual(['chromium', GOOD, '--incognito']);
  });
  it('performs no shell expansion', () => {
    expect(browserArgv('sh -c $HOME;id', GOOD)).toEqual(['sh', '-c', '$HOME;id', GOOD]);
    expect(browserArgv('   ', GOOD)).toBeUndefined();
  });
});

function fakeChild(event: 'spawn' | 'error'): ChildProcess {
  const child = new EventEmitter() as ChildProcess;
  child.unref = () => child;
  setImmediate(() => (event === 'spawn' ? child.emit('spawn') : child.emit('error', new Error('ENOENT'))));
  return child;
}

describe('createBrowserOpener', () => {
  const logger = () => {
    const lines: string[] = [];
    return { log: new Logger({ sink: { write: (s: string) => lines.push(s) } }), text: () => lines.join('') };
  };

  it('prints the URL and spawns $BROWSER without a shell, URL as one argument', async () => {
    const { log, text } = logger();
    const calls: { command: string; args: readonly string[]; options: SpawnOptions }[] = [];
    const open = createBrowserOpener({
      env: { BROWSER: 'my-browser --flag' },
      log,
      spawn: (command, args, options) => {
        calls.push({ command, args, options });
        return fakeChild('spawn');
      },
    });
    await open(GOOD);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toBe('my-browser');
    expect(calls[0]!.args).toEqual(['--flag', GOOD]);
    expect(calls[0]!.options).toMatchObject({ shell: false, detached: true, stdio: 'ignore' });
    expect(text()).toContain(GOOD);
  });

  it('uses the open package when $BROWSER is unset, and only prints with noBrowser', async () => {
    const opened: string[] = [];
    const { log } = logger();
    await createBrowserOpener({ env: {}, log, openUrl: async (href) => void opened.push(href) })(GOOD);
    expect(opened).toEqual([GOOD]);

    const quiet = logger();
    await createBrowserOpener({ env: { BROWSER: 'never-run' }, log: quiet.log, noBrowser: true, spawn: () => { throw new Error('spawned'); } })(GOOD);
    expect(quiet.text()).toContain(GOOD);
  });

  it('refuses a hostile URL before printing or spawning anything', async () => {
    const { log, text } = logger();
    let spawned = false;
    const open = createBrowserOpener({ env: { BROWSER: 'b' }, log, spawn: () => ((spawned = true), fakeChild('spawn')) });
    await expect(open('https://as.example.com/?q=$(id)')).rejects.toThrow(UnsafeServerError);
    expect(spawned).toBe(false);
    expect(text()).toBe('');
  });

  it('reports a browser that fails to start', async () => {
    const { log } = logger();
    const open = createBrowserOpener({ env: { BROWSER: 'missing' }, log, spawn: () => fakeChild('error') });
    await expect(open(GOOD)).rejects.toThrow('ENOENT');
  });
});

describe('opening on Windows (no PowerShell, no cmd.exe)', () => {
  const quiet = () => new Logger({ sink: { write: () => undefined } });

  it('spawns rundll32 url.dll,FileProtocolHandler by absolute path with the URL as one argument', async () => {
    const calls: { command: string; args: readonly string[]; options: SpawnOptions }[] = [];
    const viaOpenPackage: string[] = [];
    const open = createBrowserOpener({
      env: { SystemRoot: 'C:\\Windows' },
      log: quiet(),
      platform: 'win32',
      spawn: (command, args, options) => {
        calls.push({ command, args, options });
        return fakeChild('spawn');
      },
      openUrl: async (href) => void viaOpenPackage.push(href),
    });
    await open(GOOD);
    expect(viaOpenPackage).toEqual([]); // the `open` package would run PowerShell with the URL in a string
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toBe('C:\\Windows\\System32\\rundll32.exe');
    expect(calls[0]!.args).toEqual(['url.dll,FileProtocolHandler', GOOD]);
    expect(calls[0]!.options).toMatchObject({ shell: false, detached: true, stdio: 'ignore' });
    expect(calls[0]!.options.windowsVerbatimArguments).toBeFalsy();
  });

  it('builds the argv from SystemRoot, falling back to windir and C:\\Windows', () => {
    expect(windowsOpenArgv(GOOD, { SystemRoot: 'D:\\Win' })).toEqual(['D:\\Win\\System32\\rundll32.exe', 'url.dll,FileProtocolHandler', GOOD]);
    expect(windowsOpenArgv(GOOD, { windir: 'E:\\W' })[0]).toBe('E:\\W\\System32\\rundll32.exe');
    expect(windowsOpenArgv(GOOD, {})[0]).toBe('C:\\Windows\\System32\\rundll32.exe');
  });

  it('still prefers $BROWSER, and still refuses a hostile URL before spawning', async () => {
    const calls: string[][] = [];
    const open = createBrowserOpener({
      env: { BROWSER: 'firefox.exe', SystemRoot: 'C:\\Windows' },
      log: quiet(),
      platform: 'win32',
      spawn: (command, args) => {
        calls.push([command, ...args]);
        return fakeChild('spawn');
      },
    });
    await open(GOOD);
    expect(calls).toEqual([['firefox.exe', GOOD]]);
    for (const raw of ['https://as.example.com/?q=$(calc)', 'https://as.example.com/?q=`calc`', 'https://as.example.com/?q="&calc&"', '-https://x']) {
      await expect(open(raw)).rejects.toThrow(UnsafeServerError);
    }
    expect(calls).toHaveLength(1);
  });
});

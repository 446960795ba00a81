import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isBridgeOnly } from '../../src/cli/program.js';
import { compileCacheDir } from '../../src/store/paths.js';

/**
 * bin/compileCache.js finds its folder before any bundled code is loaded, so it has its own copy
 * of the rule; `cache clear` uses src/store/paths.ts's. The two must name the same folder.
 */
const bin = createRequire(import.meta.url)('../../bin/compileCache.js') as {
  cacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, homeDir: string): string;
  isBridgeRun(argv: string[]): boolean;
};

const CASES: [NodeJS.ProcessEnv, NodeJS.Platform, string][] = [
  [{}, 'linux', '/home/ada'],
  [{ HOME: '/home/bob' }, 'linux', '/home/ada'],
  [{ HOME: 'relative/home' }, 'linux', '/home/ada'],
  [{ XDG_CACHE_HOME: '/var/cache/ada' }, 'linux', '/home/ada'],
  [{ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/ada'],
  [{ MCP_KEYBRIDGE_HOME: '/tmp/kb' }, 'linux', '/home/ada'],
  [{ MCP_KEYBRIDGE_HOME: '/tmp/kb', XDG_CACHE_HOME: '/var/cache/ada' }, 'linux', '/home/ada'],
  [{}, 'darwin', '/Users/ada'],
  [{ HOME: '/Users/bob' }, 'darwin', '/Users/ada'],
  [{}, 'win32', 'C:\\Users\\ada'],
  [{ LOCALAPPDATA: 'D:\\Local' }, 'win32', 'C:\\Users\\ada'],
  [{ MCP_KEYBRIDGE_HOME: 'C:\\kb' }, 'win32', 'C:\\Users\\ada'],
];

describe('the compile cache folder', () => {
  it.each(CASES)('is the same for the bin and for cache clear: %j on %s', (env, platform, home) => {
    expect(bin.cacheDir(env, platform, home)).toBe(compileCacheDir(env, platform, home));
  });

  it('is under the platform cache folder, or MCP_KEYBRIDGE_HOME', () => {
    expect(compileCacheDir({}, 'linux', '/home/ada')).toBe('/home/ada/.cache/mcp-keybridge/compile-cache');
    expect(compileCacheDir({}, 'darwin', '/Users/ada')).toBe('/Users/ada/Library/Caches/mcp-keybridge/compile-cache');
    expect(compileCacheDir({ LOCALAPPDATA: 'D:\\Local' }, 'win32', 'C:\\Users\\ada')).toBe('D:\\Local\\mcp-keybridge\\compile-cache');
    expect(compileCacheDir({ MCP_KEYBRIDGE_HOME: '/tmp/kb' }, 'linux', '/home/ada')).toBe('/tmp/kb/compile-cache');
  });
});

describe('which runs the compile cache is for', () => {
  const URL = 'https://gw.example.com/mcp';
  const ARGVS = [
    [URL],
    ['serve', URL],
    ['--token-store', 'keychain', URL],
    [URL, '--header', 'X-A: b', '--deny-tool', 'rm'],
    ['login', URL],
    ['status', URL, '--json'],
    ['cache', 'clear', '--yes'],
    ['config', 'kiro', URL],
    ['doctor', URL],
    ['--help'],
    ['help', 'login'],
    ['--version'],
    [],
  ];
  it.each(ARGVS)('is the bridge exactly as the CLI reads it: %j', (...args) => {
    const expected = isBridgeOnly(args) && args.some((a) => a.includes('://'));
    expect(bin.isBridgeRun(['node', 'mcp-keybridge', ...args])).toBe(expected);
  });

  it('knows every command the CLI has', async () => {
    const { buildProgram } = await import('../../src/cli/program.js');
    const program = await buildProgram({ stderr: { write: () => true } } as never, () => undefined, ['node', 'mcp-keybridge', 'help']);
    const names = program.commands.map((c) => c.name()).filter((n) => n !== 'serve');
    expect(names).toEqual(expect.arrayContaining(['login', 'logout', 'revoke', 'status', 'token', 'cache', 'config', 'doctor', 'completion']));
    for (const name of names) {
      expect(bin.isBridgeRun(['node', 'mcp-keybridge', name, URL]), name).toBe(false);
    }
  });
});

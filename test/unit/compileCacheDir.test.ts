import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compileCacheDir } from '../../src/store/paths.js';

/**
 * bin/compileCache.js finds its folder before any bundled code is loaded, so it has its own copy
 * of the rule; `cache clear` uses src/store/paths.ts's. The two must name the same folder.
 */
const bin = createRequire(import.meta.url)('../../bin/compileCache.js') as {
  cacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, homeDir: string): string;
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

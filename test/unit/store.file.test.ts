/**
 * FileStore on the real file system. The failure cases use real conditions: a directory the writing
 * process may not write (run as `nobody` when the suite runs as root, since root ignores modes), and,
 * where mounting is permitted, a tiny tmpfs (ENOSPC) remounted read-only (EROFS). Child processes
 * run the built dist/ (build first: `npx tsc -p tsconfig.json`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { FileStore } from '../../src/store/fileStore.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { openStore } from '../../src/store/openStore.js';
import { configDir, lockDir } from '../../src/store/paths.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const builtFileStore = path.join(repoRoot, 'dist/src/store/fileStore.js');
const posix = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;

function requireBuild(): void {
  const source = path.join(repoRoot, 'src/store/fileStore.ts');
  if (!existsSync(builtFileStore) || statSync(builtFileStore).mtimeMs < statSync(source).mtimeMs) {
    throw new Error('dist/ is missing or older than src/store; run `npx tsc -p tsconfig.json` first');
  }
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** Run `body` (ESM, with `store` = FileStore over `dir`) in a child, optionally as another user; returns its last JSON line. */
function runStoreChild(dir: string, body: string, user?: { uid: number; gid: number }): Promise<Record<string, unknown>> {
  const script = `
    const { FileStore } = await import(${JSON.stringify(pathToFileURL(builtFileStore).href)});
    const store = new FileStore({ dir: process.argv[1] });
    const report = (value) => console.log(JSON.stringify(value));
    try { ${body} } catch (error) { report({ error: error.code, message: error.message }); }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (line === undefined) reject(new Error(`child printed nothing; stderr: ${err}`));
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

let base: string;
let dir: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'mcp-keybridge-file-'));
  dir = path.join(base, 'config', 'mcp-keybridge');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('FileStore', () => {
  it('round-trips values and lists keys', async () => {
    const store = new FileStore({ dir });
    expect(await store.get('a')).toBeUndefined();
    expect(await store.list()).toEqual([]);
    await store.set('b', { access_token: 'x'.repeat(5000), name: 'Zoë' });
    await store.set('a', { n: 1 });
    await store.set('a', { n: 2 });
    expect(await store.get('a')).toEqual({ n: 2 });
    expect(await store.get<{ name: string }>('b')).toMatchObject({ name: 'Zoë' });
    expect(await store.list()).toEqual(['a', 'b']);
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);
    expect(await store.list()).toEqual(['b']);
    expect(store.location).toContain(path.join(dir, 'tokens.json'));
  });

  it.skipIf(!posix)('creates the directory 0700 and the file 0600 whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      await new FileStore({ dir }).set('k', { v: 1 });
    } finally {
      process.umask(previous);
    }
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'tokens.json'))).toBe(0o600);
  });

  it.skipIf(!posix)('re-checks permissions on read and makes a loosened file and directory private again', async () => {
    const store = new FileStore({ dir });
    await store.set('k', { v: 1 });
    await chmod(path.join(dir, 'tokens.json'), 0o644);
    await chmod(dir, 0o755);
    expect(await store.get('k')).toEqual({ v: 1 });
    expect(mode(path.join(dir, 'tokens.json'))).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
  });

  it('replaces the file atomically: no temp files left, readers never see a partial file', async () => {
    const store = new FileStore({ dir });
    await store.set('seed', { v: 0 });
    const file = path.join(dir, 'tokens.json');
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing && reads < 100_000) {
        JSON.parse(readFileSync(file, 'utf8'));
        reads += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, { token: String(i).repeat(20_000) })));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await store.list()).length).toBe(21);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('loses no update when several processes write at once', async () => {
    requireBuild();
    const writers = [0, 1, 2].map((w) =>
      runStoreChild(dir, `for (let i = 0; i < 8; i += 1) await store.set('w${w}-' + i, { i }); report({ ok: true });`),
    );
    expect(await Promise.all(writers)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect((await new FileStore({ dir }).list()).length).toBe(24);
  });

  it('a corrupt file is store_corrupt with the fix', async () => {
    const store = new FileStore({ dir });
    await store.set('k', { v: 1 });
    await writeFile(path.join(dir, 'tokens.json'), '{"v":1,"entries":', { mode: 0o600 });
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('store_corrupt');
    expect((error as Error).message).toContain('cache clear');
  });

  it.skipIf(!posix)('a directory it may not write gives a clear error and the old data survives', async () => {
    requireBuild();
    // Root ignores permission bits, so when the suite runs as root the writer runs as `nobody`.
    const user = isRoot ? { uid: 65534, gid: 65534 } : undefined;
    mkdirSync(dir, { recursive: true });
    if (user !== undefined) {
      chmodSync(base, 0o711);
      chmodSync(path.join(base, 'config'), 0o711);
      chownSync(dir, user.uid, user.gid);
    }
    chmodSync(dir, 0o700);
    expect(await runStoreChild(dir, `await store.set('k', { v: 1 }); report({ ok: true });`, user)).toEqual({ ok: true });

    chmodSync(dir, 0o500);
    try {
      const failed = await runStoreChild(dir, `await store.set('k', { v: 2 }); report({ ok: true });`, user);
      expect(failed.error).toBe('store_permission_denied');
      expect(failed.message).toMatch(/permission denied/i);
      expect(failed.message).toContain('previous contents are unchanged');
      expect(await runStoreChild(dir, `report(await store.get('k'));`, user)).toEqual({ v: 1 });
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  describe('on a full or read-only file system (needs mount rights, e.g. root in a container)', () => {
    let mounted = false;
    beforeEach(() => {
      if (process.platform !== 'linux' || !isRoot) return;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'ignore', timeout: 10_000 });
        mounted = true;
      } catch {
        mounted = false;
      }
    });
    afterEach(() => {
      if (mounted) execFileSync('umount', [dir], { stdio: 'ignore', timeout: 10_000 });
      mounted = false;
    });

    it('ENOSPC and EROFS give clear errors and the old data survives', async (ctx) => {
      if (!mounted) {
        console.warn('store.file: cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN); skipping ENOSPC/EROFS');
        ctx.skip();
      }
      const store = new FileStore({ dir });
      await store.set('k', { v: 1 });

      const full = await store.set('big', { token: 'x'.repeat(200_000) }).catch((e: unknown) => e);
      expect((full as StoreUnavailableError).code).toBe('store_no_space');
      expect((full as Error).message).toMatch(/disk is full/);
      expect(await store.get('k')).toEqual({ v: 1 });
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore', timeout: 10_000 });
      const readOnly = await store.set('k', { v: 2 }).catch((e: unknown) => e);
      expect((readOnly as StoreUnavailableError).code).toBe('store_read_only');
      expect((readOnly as Error).message).toMatch(/read-only/);
      expect(await store.get('k')).toEqual({ v: 1 });
    });
  });
});

describe('MemoryStore', () => {
  it('copies values in and out', async () => {
    const store = new MemoryStore();
    const value = { nested: { n: 1 } };
    await store.set('k', value);
    value.nested.n = 2;
    expect(await store.get('k')).toEqual({ nested: { n: 1 } });
    expect(await store.list()).toEqual(['k']);
    expect(await store.delete('k')).toBe(true);
    expect(await store.get('k')).toBeUndefined();
  });
});

describe('paths and openStore', () => {
  it('resolves the config directory per platform', () => {
    expect(configDir({ MCP_KEYBRIDGE_HOME: '/tmp/kb' }, 'linux', '/home/u')).toBe('/tmp/kb');
    expect(configDir({ HOME: '/home/u' }, 'linux', '/x')).toBe('/home/u/.config/mcp-keybridge');
    expect(configDir({ HOME: '/home/u', XDG_CONFIG_HOME: '/xdg' }, 'linux', '/x')).toBe('/xdg/mcp-keybridge');
    expect(configDir({ HOME: '/home/u', XDG_CONFIG_HOME: 'relative' }, 'linux', '/x')).toBe('/home/u/.config/mcp-keybridge');
    expect(configDir({ HOME: '/Users/u' }, 'darwin', '/x')).toBe('/Users/u/Library/Application Support/mcp-keybridge');
    expect(configDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Roaming\\mcp-keybridge');
    expect(lockDir({ MCP_KEYBRIDGE_HOME: '/tmp/kb' }, 'linux')).toBe('/tmp/kb/locks');
  });

  it('opens the file store under $MCP_KEYBRIDGE_HOME', async () => {
    const store = await openStore('file', { env: { MCP_KEYBRIDGE_HOME: dir } });
    expect(store.kind).toBe('file');
    await store.set('k', { v: 1 });
    expect(existsSync(path.join(dir, 'tokens.json'))).toBe(true);
    expect((await openStore('memory', { env: {} })).kind).toBe('memory');
  });
});

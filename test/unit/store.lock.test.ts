/**
 * The cross-process lock with real processes: children run the built dist/src/store/crossProcessLock.js
 * (build first: `npx tsc -p tsconfig.json`), this process runs the TypeScript source; both speak the
 * same lock-file protocol.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { lockFilePath, withLock } from '../../src/store/crossProcessLock.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const builtLock = path.join(repoRoot, 'dist/src/store/crossProcessLock.js');

/** The child: `contend` appends enter/exit markers under the lock; `hold` takes it and never lets go. */
const childScript = `
  const { withLock } = await import(${JSON.stringify(pathToFileURL(builtLock).href)});
  const { appendFileSync } = await import('node:fs');
  const [mode, dir, log, id, iterations, staleMs] = process.argv.slice(1);
  const opts = { dir, timeoutMs: 60000, staleMs: Number(staleMs) };
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  if (mode === 'contend') {
    // Two workers per process: the in-process queue and the file lock are both exercised.
    const worker = async (w) => {
      for (let i = 0; i < Number(iterations); i += 1) {
        await withLock('shared', opts, async () => {
          appendFileSync(log, 'enter ' + id + '.' + w + '\\n');
          await pause(1 + Math.floor(Math.random() * 3));
          appendFileSync(log, 'exit ' + id + '.' + w + '\\n');
        });
      }
    };
    await Promise.all([worker(0), worker(1)]);
  } else {
    setInterval(() => undefined, 1000);
    await withLock('shared', opts, async () => {
      console.log('held');
      await new Promise(() => undefined);
    });
  }
`;

const children: ChildProcess[] = [];

function startChild(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`child ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function printed(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child never printed "${text}"; stderr: ${err}`)), timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

let dir: string;

beforeAll(() => {
  const source = path.join(repoRoot, 'src/store/crossProcessLock.ts');
  if (!existsSync(builtLock) || statSync(builtLock).mtimeMs < statSync(source).mtimeMs) {
    throw new Error('dist/ is missing or older than src/store; run `npx tsc -p tsconfig.json` first');
  }
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mcp-keybridge-lock-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child, 5_000).catch(() => undefined);
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('withLock across processes', () => {
  it('never lets two holders overlap (4 processes × 2 workers × 10 rounds)', async () => {
    const log = path.join(dir, 'markers.log');
    const contenders = [0, 1, 2, 3].map((id) => startChild(['contend', path.join(dir, 'locks'), log, String(id), '10', '5000']));
    const codes = await Promise.all(contenders.map((child) => exited(child, 60_000)));
    expect(codes).toEqual([0, 0, 0, 0]);

    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4 * 2 * 10 * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, exit] = [lines[i] ?? '', lines[i + 1] ?? ''];
      expect(enter.startsWith('enter ')).toBe(true);
      expect(exit).toBe(enter.replace('enter', 'exit'));
    }
    // Released every time: only the (empty) lock directory is left.
    expect((await readdir(path.join(dir, 'locks'))).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('recovers a lock whose holder was killed with SIGKILL', async () => {
    const locks = path.join(dir, 'locks');
    const holder = startChild(['hold', locks, '-', 'h', '0', '3000']);
    await printed(holder, 'held', 20_000);
    holder.kill('SIGKILL');
    await exited(holder, 10_000);
    expect(existsSync(lockFilePath(locks, 'shared'))).toBe(true);

    const started = Date.now();
    const result = await withLock('shared', { dir: locks, timeoutMs: 20_000, staleMs: 3_000 }, async () => 'acquired');
    expect(result).toBe('acquired');
    // The dead pid is noticed at once; at worst the file goes stale after staleMs.
    expect(Date.now() - started).toBeLessThan(3_000 + 5_000);
  });

  it('several waiters recover a killed holder\'s lock without overlapping', async () => {
    const locks = path.join(dir, 'locks');
    const log = path.join(dir, 'markers.log');
    const holder = startChild(['hold', locks, '-', 'h', '0', '3000']);
    await printed(holder, 'held', 20_000);
    const contenders = [0, 1, 2].map((id) => startChild(['contend', locks, log, String(id), '5', '3000']));
    await new Promise((resolve) => setTimeout(resolve, 300));
    holder.kill('SIGKILL');
    const codes = await Promise.all(contenders.map((child) => exited(child, 60_000)));
    expect(codes).toEqual([0, 0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3 * 2 * 5 * 2);
    for (let i = 0; i < lines.length; i += 2) expect(lines[i + 1]).toBe((lines[i] ?? '').replace('enter', 'exit'));
  });

  it('breaks a lock from another host only once it is older than staleMs', async () => {
    const locks = path.join(dir, 'locks');
    await withLock('init', { dir: locks, timeoutMs: 1_000 }, async () => undefined);
    const file = lockFilePath(locks, 'shared');
    const owner = { pid: 1, hostname: 'some-other-host.invalid', createdAt: Date.now(), token: 'foreign' };
    await writeFile(file, JSON.stringify(owner), { mode: 0o600 });

    // Fresh: a pid on another host cannot be checked, so it is respected.
    const fresh = await withLock('shared', { dir: locks, timeoutMs: 300, staleMs: 60_000 }, async () => 'stolen').catch((e: unknown) => e);
    expect((fresh as StoreUnavailableError).code).toBe('lock_timeout');
    expect((fresh as Error).message).toContain('some-other-host.invalid');

    const old = new Date(Date.now() - 120_000);
    await utimes(file, old, old);
    expect(await withLock('shared', { dir: locks, timeoutMs: 5_000, staleMs: 60_000 }, async () => 'acquired')).toBe('acquired');
    expect(existsSync(file)).toBe(false);
  });

  it('times out with lock_timeout while a live holder keeps refreshing, calling onWait once', async () => {
    const locks = path.join(dir, 'locks');
    // staleMs 300: the holder must refresh every ~100 ms or it would be broken long before our timeout.
    const holder = startChild(['hold', locks, '-', 'h', '0', '300']);
    await printed(holder, 'held', 20_000);
    let waits = 0;
    const error = await withLock('shared', { dir: locks, timeoutMs: 1_500, staleMs: 300, onWait: () => (waits += 1) }, async () => 'stolen').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('lock_timeout');
    expect((error as Error).message).toContain(`process ${holder.pid}`);
    expect(waits).toBe(1);
  });
});

describe('withLock in one process', () => {
  it('queues callers of the same name and releases even when fn throws', async () => {
    const locks = path.join(dir, 'locks');
    const events: string[] = [];
    const task = (id: string, fail: boolean) =>
      withLock('same', { dir: locks, timeoutMs: 10_000 }, async () => {
        events.push(`enter ${id}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        events.push(`exit ${id}`);
        if (fail) throw new Error(`boom ${id}`);
        return id;
      });
    const results = await Promise.allSettled([task('a', true), task('b', false), task('c', false)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(events).toEqual(['enter a', 'exit a', 'enter b', 'exit b', 'enter c', 'exit c']);
    expect(existsSync(lockFilePath(locks, 'same'))).toBe(false);
  });

  it('a queued caller times out with lock_timeout and the queue keeps working', async () => {
    const locks = path.join(dir, 'locks');
    let release: (() => void) | undefined;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = withLock('q', { dir: locks, timeoutMs: 5_000 }, () =>
      new Promise<void>((resolve) => {
        release = resolve;
        entered();
      }),
    );
    await inside;
    const error = await withLock('q', { dir: locks, timeoutMs: 100 }, async () => 'late').catch((e: unknown) => e);
    expect((error as StoreUnavailableError).code).toBe('lock_timeout');
    const next = withLock('q', { dir: locks, timeoutMs: 5_000 }, async () => 'next');
    release?.();
    await holding;
    expect(await next).toBe('next');
  });

  it('stops waiting when the signal aborts', async () => {
    const locks = path.join(dir, 'locks');
    let release: (() => void) | undefined;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = withLock('s', { dir: locks, timeoutMs: 5_000 }, () =>
      new Promise<void>((resolve) => {
        release = resolve;
        entered();
      }),
    );
    await inside;
    const controller = new AbortController();
    const waiting = withLock('s', { dir: locks, timeoutMs: 5_000, signal: controller.signal }, async () => 'late').catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('user pressed ctrl-c')), 50);
    expect(((await waiting) as Error).message).toBe('user pressed ctrl-c');
    release?.();
    await holding;
  });

  it('hashes names into safe file names', () => {
    const file = path.basename(lockFilePath('/x', 'refresh https://gw.example/mcp?a=b|client/../..'));
    expect(file).toMatch(/^[A-Za-z0-9._-]+\.lock$/);
    expect(lockFilePath('/x', 'a/b')).not.toBe(lockFilePath('/x', 'a?b'));
  });
});

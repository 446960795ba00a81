import { createHash, randomUUID } from 'node:crypto';
import { link, open, rename, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Clock } from '../deps.js';
import { StoreUnavailableError } from '../errors.js';
import { sleep, systemClock } from './deadline.js';
import { ensurePrivateDir, fileSystemFailure } from './paths.js';

/** A holder that has not touched its lock file for this long is presumed dead. */
export const DEFAULT_LOCK_STALE_MS = 30_000;
/** The break guard is held for a few file operations; older than this, its holder died mid-break. */
const GUARD_STALE_MS = 5_000;
const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 200;

export interface LockOptions {
  /** Directory for lock files (see lockDir()); created 0700 if missing. */
  dir: string;
  /** Give up with StoreUnavailableError 'lock_timeout' after this long (waiting in-process and across processes). */
  timeoutMs: number;
  /** A lock file not refreshed for this long is broken. The holder refreshes every staleMs/3. */
  staleMs?: number;
  signal?: AbortSignal;
  /** Called once, the first time the caller has to wait (e.g. to show "waiting for another mcp-keybridge…"). */
  onWait?: () => void;
  clock?: Clock;
}

/** What a lock file says about its holder. */
export interface LockOwner {
  pid: number;
  hostname: string;
  createdAt: number;
  /** Unique per acquisition, so a holder never releases a lock that was broken and re-taken. */
  token: string;
}

/**
 * One tail promise per lock file, so callers in this process queue behind each other instead of
 * polling the file. The only module-level state in src/store: a lock shared by every caller in the
 * process is process-wide by nature. Entries are removed once their queue drains.
 */
const inProcessTails = new Map<string, Promise<void>>();

/**
 * The names of the files this module creates in a lock directory: a lock file from lockFilePath,
 * its `.break` guard and a `.stale-<uuid>` aside. `cache clear` removes only names that match.
 */
export const OWN_LOCK_FILE_NAME = /^[A-Za-z0-9._-]{1,40}-[0-9a-f]{24}\.lock(?:\.break|\.stale-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/;

/** The lock file used for `name` in `dir`: a readable prefix plus a hash, safe on every file system. */
export function lockFilePath(dir: string, name: string): string {
  const readable = name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
  const digest = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 24);
  return path.join(dir, `${readable}-${digest}.lock`);
}

/**
 * Run `fn` while holding the exclusive lock `name`, shared by every process of this user on this
 * machine. Waits with bounded backoff; a holder that crashed (pid gone, or file not refreshed for
 * staleMs) is broken safely. The lock is always released, whether `fn` resolves or throws.
 */
export async function withLock<T>(name: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  opts.signal?.throwIfAborted();
  const clock = opts.clock ?? systemClock;
  const deadline = clock.now() + opts.timeoutMs;
  const file = lockFilePath(opts.dir, name);
  let waited = false;
  const noteWait = (): void => {
    if (waited) return;
    waited = true;
    opts.onWait?.();
  };

  // Join the in-process queue before the first await, so callers are served in call order.
  const turn = queueInProcess(file);
  try {
    if (turn.contended) noteWait();
    await waitForTurn(turn.ready, { deadline, clock, signal: opts.signal, onTimeout: () => lockTimeout(name, file, opts.timeoutMs, undefined) });
    await ensurePrivateDir(opts.dir);
    const held = await acquireFile(name, file, { ...opts, deadline, clock, noteWait });
    try {
      return await fn();
    } finally {
      await held.release();
    }
  } finally {
    turn.done();
  }
}

function queueInProcess(file: string): { ready: Promise<void>; contended: boolean; done: () => void } {
  const previous = inProcessTails.get(file);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  const tail = (previous ?? Promise.resolve()).then(() => mine);
  inProcessTails.set(file, tail);
  void tail.then(() => {
    if (inProcessTails.get(file) === tail) inProcessTails.delete(file);
  });
  return { ready: previous ?? Promise.resolve(), contended: previous !== undefined, done };
}

async function waitForTurn(
  ready: Promise<void>,
  opts: { deadline: number; clock: Clock; signal?: AbortSignal; onTimeout: () => Error },
): Promise<void> {
  opts.signal?.throwIfAborted();
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const remaining = opts.deadline - opts.clock.now();
    const expired = sleep(Math.max(0, remaining), controller.signal).then(() => {
      throw opts.onTimeout();
    });
    expired.catch(() => undefined);
    await Promise.race([ready, expired]);
  } finally {
    controller.abort();
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

interface AcquireOptions extends LockOptions {
  deadline: number;
  clock: Clock;
  noteWait: () => void;
}

async function acquireFile(name: string, file: string, opts: AcquireOptions): Promise<{ release: () => Promise<void> }> {
  const staleMs = opts.staleMs ?? DEFAULT_LOCK_STALE_MS;
  let backoffMs = BACKOFF_MIN_MS;
  let lastHolder: LockOwner | undefined;
  do {
    const owner: LockOwner = { pid: process.pid, hostname: hostname(), createdAt: opts.clock.now(), token: randomUUID() };
    if (await createExclusive(file, owner)) return startHolding(file, owner, staleMs, opts.clock);
    const seen = await inspect(file);
    if (seen !== undefined) {
      lastHolder = seen.owner;
      if (isStale(seen, staleMs, opts.clock)) {
        await breakStaleLock(file, seen, opts.clock);
      } else {
        opts.noteWait();
        const remaining = opts.deadline - opts.clock.now();
        if (remaining <= 0) break;
        // Jitter keeps waiters that started together from polling in lockstep.
        await sleep(Math.min(remaining, backoffMs * (0.5 + Math.random() / 2)), opts.signal);
        backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
      }
    }
  } while (opts.clock.now() < opts.deadline);
  throw lockTimeout(name, file, opts.timeoutMs, lastHolder);
}

/** Create the lock file with O_EXCL; false when it already exists. */
async function createExclusive(file: string, owner: LockOwner): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileSystemFailure(`create the lock file ${file}`, error);
  }
  try {
    await handle.writeFile(JSON.stringify(owner));
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw fileSystemFailure(`write the lock file ${file}`, error);
  }
  await handle.close();
  return true;
}

interface LockSnapshot {
  raw: string;
  owner: LockOwner | undefined;
  mtimeMs: number;
  ino: number;
}

/** Read the lock file; undefined when it vanished meanwhile. */
async function inspect(file: string): Promise<LockSnapshot | undefined> {
  let handle;
  try {
    // stat and read through one handle, so both describe the same file even if the path is replaced.
    handle = await open(file, 'r');
    const info = await handle.stat();
    const raw = await handle.readFile('utf8');
    return { raw, owner: parseOwner(raw), mtimeMs: info.mtimeMs, ino: info.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemFailure(`read the lock file ${file}`, error);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' && typeof parsed.token === 'string' && typeof parsed.createdAt === 'number') {
      return parsed as LockOwner;
    }
  } catch {
    // An empty or half-written file: its creator is between open and write; only age can condemn it.
  }
  return undefined;
}

function isStale(seen: LockSnapshot, staleMs: number, clock: Clock): boolean {
  if (clock.now() - seen.mtimeMs > staleMs) return true;
  const owner = seen.owner;
  // A pid is only meaningful on the machine that wrote it (lock dirs can sit on a shared home).
  return owner !== undefined && owner.hostname === hostname() && owner.pid !== process.pid && !isProcessAlive(owner.pid);
}

/** Signal 0 checks existence without signalling: ESRCH means gone, EPERM means alive but not ours. */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Remove a lock judged stale. Breakers serialise on a guard file (itself O_EXCL) and re-check under
 * it that the lock is still the very file they judged, so two waiters never break a fresh lock that
 * one of them just took.
 */
async function breakStaleLock(file: string, judged: LockSnapshot, clock: Clock): Promise<void> {
  const guard = `${file}.break`;
  const guardOwner: LockOwner = { pid: process.pid, hostname: hostname(), createdAt: clock.now(), token: randomUUID() };
  if (!(await createExclusive(guard, guardOwner))) {
    const guardSeen = await inspect(guard);
    if (guardSeen !== undefined && isStale(guardSeen, GUARD_STALE_MS, clock)) await removeIfUnchanged(guard, guardSeen);
    else await sleep(BACKOFF_MIN_MS);
    return;
  }
  try {
    const current = await inspect(file);
    if (current !== undefined && sameFile(current, judged)) await removeIfUnchanged(file, current);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Rename-then-unlink: the rename moves exactly one file; if it was not the one judged, put it back. */
async function removeIfUnchanged(file: string, judged: LockSnapshot): Promise<void> {
  const aside = `${file}.stale-${randomUUID()}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fileSystemFailure(`break the stale lock ${file}`, error);
  }
  const moved = await inspect(aside);
  if (moved !== undefined && !sameFile(moved, judged)) {
    await link(aside, file).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

function sameFile(a: LockSnapshot, b: LockSnapshot): boolean {
  return a.ino === b.ino && a.raw === b.raw && a.mtimeMs === b.mtimeMs;
}

/** Keep the lock file's mtime fresh while held; release only a file that still carries our token. */
function startHolding(file: string, owner: LockOwner, staleMs: number, clock: Clock): { release: () => Promise<void> } {
  let refreshing: Promise<void> = Promise.resolve();
  const refresh = async (): Promise<void> => {
    const seen = await inspect(file).catch(() => undefined);
    if (seen?.owner?.token !== owner.token) return;
    const now = clock.now() / 1000;
    await utimes(file, now, now).catch(() => undefined);
  };
  const timer = setInterval(() => {
    refreshing = refreshing.then(refresh);
  }, Math.max(20, Math.floor(staleMs / 3)));
  timer.unref();
  return {
    release: async () => {
      clearInterval(timer);
      await refreshing;
      const seen = await inspect(file).catch(() => undefined);
      if (seen?.owner?.token === owner.token) await unlink(file).catch(() => undefined);
    },
  };
}

function lockTimeout(name: string, file: string, timeoutMs: number, holder: LockOwner | undefined): StoreUnavailableError {
  const who = holder === undefined ? 'another mcp-keybridge task' : `process ${holder.pid} on ${holder.hostname} (since ${new Date(holder.createdAt).toISOString()})`;
  return new StoreUnavailableError(
    `Timed out after ${timeoutMs} ms waiting for the lock "${name}", held by ${who}. Wait for it to finish and retry; if no other mcp-keybridge is running, delete ${file}.`,
    'lock_timeout',
  );
}

import { createHash, randomUUID } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../deps.js';
import { withLock } from '../store/crossProcessLock.js';

/** One sliding window to count a call against: at most `limit` calls in any `windowMs`. */
export interface BudgetWindow {
  /** Identifies the counter: the same key in every bridge of this user and server shares it. */
  key: string;
  limit: number;
  windowMs: number;
}

/** Granted (and counted in every window), or refused naming the window that holds it back longest. */
export type TakeResult = { granted: true } | { granted: false; index: number; retryAt: number };

/** Where call counts live. */
export interface BudgetLedger {
  take(windows: BudgetWindow[], now: number): Promise<TakeResult>;
}

/** The ledger's contents: per key, its window length and the times of the calls still inside it. */
export type Counters = Record<string, { windowMs: number; stamps: number[] }>;

/**
 * Pure decision on counters (mutated): drop calls that left their window, then grant only if every
 * window has room (counting the call in all of them), else name the one that frees up last: the
 * call may go when all of them have room, so that one is the binding one ("the tightest wins").
 */
export function decide(counters: Counters, windows: BudgetWindow[], now: number): TakeResult {
  for (const [key, c] of Object.entries(counters)) {
    c.stamps = c.stamps.filter((t) => t > now - c.windowMs && t <= now + c.windowMs);
    if (c.stamps.length === 0) delete counters[key];
  }
  let refused: { index: number; retryAt: number } | undefined;
  windows.forEach((w, index) => {
    const stamps = counters[w.key]?.stamps.filter((t) => t > now - w.windowMs) ?? [];
    if (stamps.length < w.limit) return;
    // The (count - limit + 1) oldest calls must leave the window before one more fits.
    const sorted = [...stamps].sort((a, b) => a - b);
    const retryAt = sorted[sorted.length - w.limit]! + w.windowMs;
    if (!refused || retryAt > refused.retryAt) refused = { index, retryAt };
  });
  if (refused) return { granted: false, ...refused };
  for (const w of windows) {
    const c = (counters[w.key] ??= { windowMs: w.windowMs, stamps: [] });
    c.windowMs = Math.max(c.windowMs, w.windowMs);
    c.stamps.push(now);
  }
  return { granted: true };
}

export interface FileBudgetLedgerOptions {
  /** The lock directory (src/store/paths.ts lockDir); the counter file sits beside the locks. */
  dir: string;
  /** What the counters are shared by: the canonical server URL (the user is part of each key). */
  scope: string;
  clock: Clock;
  lockTimeoutMs?: number;
  /** The file was not readable as counters (it is then started afresh). */
  onCorrupt?(file: string): void;
}

/**
 * Counters in one small JSON file per server under the lock directory, read and rewritten under a
 * cross-process lock on every counted call, so every bridge of this user on this machine (five IDE
 * windows) draws on one budget. Writes are atomic (temp file + rename), mode 0600.
 */
export class FileBudgetLedger implements BudgetLedger {
  private readonly file: string;
  private readonly lockName: string;

  constructor(private readonly o: FileBudgetLedgerOptions) {
    const digest = createHash('sha256').update(o.scope).digest('hex').slice(0, 32);
    this.file = path.join(o.dir, `budget-${digest}.json`);
    this.lockName = `budget-${digest}`;
  }

  get location(): string {
    return this.file;
  }

  take(windows: BudgetWindow[], now: number): Promise<TakeResult> {
    return withLock(this.lockName, { dir: this.o.dir, timeoutMs: this.o.lockTimeoutMs ?? 10_000, clock: this.o.clock }, async () => {
      const counters = await this.read();
      const result = decide(counters, windows, now);
      if (result.granted) await this.write(counters);
      return result;
    });
  }

  private async read(): Promise<Counters> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as { version?: unknown; counters?: unknown };
      if (parsed.version === 1 && parsed.counters && typeof parsed.counters === 'object') {
        const out: Counters = {};
        for (const [key, c] of Object.entries(parsed.counters as Record<string, { windowMs?: unknown; stamps?: unknown }>)) {
          if (typeof c?.windowMs === 'number' && Array.isArray(c.stamps)) {
            out[key] = { windowMs: c.windowMs, stamps: c.stamps.filter((t): t is number => typeof t === 'number') };
          }
        }
        return out;
      }
    } catch {
      // fall through: reported below
    }
    this.o.onCorrupt?.(this.file);
    return {};
  }

  private async write(counters: Counters): Promise<void> {
    const tmp = `${this.file}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify({ version: 1, counters }), { mode: 0o600 });
      await rename(tmp, this.file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

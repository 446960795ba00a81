/**
 * The bench's global time budget: every loop asks `expired` before each step, so a run stops by
 * itself even when the gateway or the bridge misbehaves. `remainingMs` bounds single waits.
 */
export class Deadline {
  private readonly endsAt: number;

  constructor(
    budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.endsAt = now() + budgetMs;
  }

  get expired(): boolean {
    return this.now() >= this.endsAt;
  }

  get remainingMs(): number {
    return Math.max(0, this.endsAt - this.now());
  }

  /** A per-wait timeout: `capMs`, but never past the global deadline (and at least 1 ms). */
  cap(capMs: number): number {
    return Math.max(1, Math.min(capMs, this.remainingMs));
  }
}

/** Thrown when the budget ran out before a phase could produce its figure. */
export class DeadlineExceeded extends Error {
  constructor(what: string) {
    super(`global deadline reached during ${what}`);
  }
}

/** Race a promise against a timer; the timer never keeps the process alive. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms)} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

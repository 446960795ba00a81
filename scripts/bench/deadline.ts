/**
 * The bench's global time budget: every loop asks `expired` before each step, so a run stops
 * starting new work by itself once the budget is spent (and then reports which figures it could
 * not complete). It never shortens a single wait: each wait has its own generous timeout, so a
 * loaded machine makes a run slower, not broken.
 */
export class Deadline {
  private readonly endsAt: number;

  /** budgetMs: Infinity for none. */
  constructor(
    budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.endsAt = now() + budgetMs;
  }

  get expired(): boolean {
    return this.now() >= this.endsAt;
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

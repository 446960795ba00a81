import type { Clock } from '../deps.js';

/** The wall clock used when the caller does not inject one. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * Run `task` with a deadline: it receives an AbortSignal that fires at the deadline (or when the
 * caller's `signal` aborts), and the returned promise settles no later than that, even if the task
 * ignores the signal. A task that blocks the event loop past the deadline and then fails is also
 * reported through `onTimeout` (native code can block synchronously; the timer cannot preempt it).
 */
export async function withDeadline<T>(
  task: (signal: AbortSignal) => Promise<T>,
  opts: { timeoutMs: number; signal?: AbortSignal; clock?: Clock; onTimeout: () => Error },
): Promise<T> {
  opts.signal?.throwIfAborted();
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const stopper = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = opts.onTimeout();
      controller.abort(error);
      reject(error);
    }, opts.timeoutMs);
    if (opts.signal !== undefined) {
      const outer = opts.signal;
      onOuterAbort = () => {
        controller.abort(outer.reason);
        reject(outer.reason);
      };
      outer.addEventListener('abort', onOuterAbort, { once: true });
    }
  });
  let running: Promise<T>;
  try {
    running = task(controller.signal);
  } catch (error) {
    running = Promise.reject(error);
  }
  // The losing side of the race must never surface as an unhandled rejection.
  running.catch(() => undefined);
  stopper.catch(() => undefined);
  try {
    return await Promise.race([running, stopper]);
  } catch (error) {
    if (!controller.signal.aborted && clock.now() - started >= opts.timeoutMs) throw opts.onTimeout();
    throw error;
  } finally {
    clearTimeout(timer);
    if (onOuterAbort !== undefined) opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** Sleep for `ms`, or reject with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

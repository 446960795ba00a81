import { AuthRequiredError } from '../errors.js';

/**
 * Wait for shared work (a refresh or sign-in other callers also wait on) without letting one
 * caller's cancellation abort it for everyone: the caller stops waiting, the work goes on.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new AuthRequiredError('cancelled', 'auth_cancelled', signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AuthRequiredError('cancelled', 'auth_cancelled', signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

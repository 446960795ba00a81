/** How an exchange's failures are told apart (codes the retry policy and the error messages read). */
import { NOT_WRITTEN } from '../retryPolicy.js';

/** An Error with a Node-style code. */
export function codedError(code: string, message: string): Error & { code: string } {
  const e = new Error(message) as Error & { code: string };
  e.code = code;
  return e;
}

/**
 * Failures of a connection that is not up yet which say nothing more than "it did not get
 * through". Not a connect timeout: going again would make the IDE wait several deadlines.
 */
const NOT_UP_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * A connect or TLS handshake that was reset: the request cannot have reached the gateway, so it
 * is marked NOT_WRITTEN (the original is its cause, which is what the user is told) and goes
 * again, after the backoff, even when it is a tools/call. Every other code is kept: refused or
 * unreachable already say "not sent", and a certificate error must keep its code (its hint, and
 * no retry).
 */
export function notWritten(err: Error): Error {
  const code = (err as { code?: string }).code;
  if (err.name === 'AbortError' || !code || !NOT_UP_CODES.has(code)) return err;
  const e = codedError(NOT_WRITTEN, err.message);
  e.cause = err;
  return e;
}

/** The error of an aborted exchange (describeNetworkError reads its name). */
export function abortError(reason: unknown): Error {
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const e = new Error('the request was aborted', { cause: reason });
  e.name = 'AbortError';
  return e;
}

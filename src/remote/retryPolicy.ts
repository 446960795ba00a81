/** When a failed exchange with the gateway may be tried again, and after how long. Pure. */

export const MAX_RETRIES = 3;
/** A Retry-After longer than this is not waited for: the IDE gets an error instead. */
export const MAX_RETRY_AFTER_MS = 30_000;
const BASE_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

/**
 * Failures where the request cannot have reached the gateway: no connection, or (NOT_WRITTEN) a
 * connection reset before it was up (TCP or the TLS handshake; see http1/failures.ts). A kept-alive
 * connection found closing or idle too long is never used (SocketHttpClient).
 */
export const NOT_WRITTEN = 'KB_NOT_WRITTEN';
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export interface FailedAttempt {
  /** 1 for the first retry. */
  attempt: number;
  /** False for calls with side effects (tools/call): never sent twice if they may have arrived. */
  idempotent: boolean;
  status?: number;
  retryAfter?: string | null;
  /** Node's error code for a network failure. */
  errorCode?: string;
  /** The failure happened on a reused kept-alive socket (informational: it may still have been delivered). */
  reusedSocket?: boolean;
  now: number;
  /** A number in [0, 1) for jitter. */
  random: number;
}

/** Milliseconds to wait before retrying, or undefined when the failure must be reported. */
export function retryDelay(f: FailedAttempt): number | undefined {
  if (f.attempt > MAX_RETRIES) return undefined;
  const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (f.attempt - 1)) * (0.5 + f.random / 2);
  if (f.status !== undefined) {
    if (f.status === 429 || f.status === 503) {
      // The server says it did not process the request: safe whatever the method.
      const after = parseRetryAfter(f.retryAfter, f.now);
      if (after === undefined) return backoff;
      return after <= MAX_RETRY_AFTER_MS ? after : undefined;
    }
    if (f.status === 502 || f.status === 504) return f.idempotent ? backoff : undefined;
    return undefined;
  }
  // Never sent (no connection, or one that never came up): go again after the backoff, whatever the method.
  if (f.errorCode === NOT_WRITTEN || (f.errorCode && NOT_SENT.has(f.errorCode))) return backoff;
  // One rule for everything else: the request may have reached the gateway (a reset on a reused
  // keep-alive socket too: the gateway may have run it before the reset), so only a method that is
  // safe to repeat goes again.
  if (f.idempotent && (f.errorCode === 'ECONNRESET' || f.errorCode === 'ETIMEDOUT' || f.errorCode === 'EPIPE' || f.errorCode === 'UND_ERR_SOCKET')) return backoff;
  return undefined;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from now. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** MCP methods with side effects: never replayed once they may have reached the gateway. */
export function isIdempotentMethod(method: string | undefined): boolean {
  return method !== 'tools/call';
}

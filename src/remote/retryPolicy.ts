/** When a failed exchange with the gateway may be tried again, and after how long. Pure. */

export const MAX_RETRIES = 3;
/** A Retry-After longer than this is not waited for: the IDE gets an error instead. */
export const MAX_RETRY_AFTER_MS = 30_000;
const BASE_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

/** Connection failures where the request cannot have reached the gateway. */
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
  /** The failure happened on a kept-alive socket the server had already closed. */
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
  if (f.errorCode && NOT_SENT.has(f.errorCode)) return backoff;
  // A reset on a reused keep-alive socket means the server closed it while idle: not delivered.
  if (f.errorCode === 'ECONNRESET' && f.reusedSocket) return 0;
  if ((f.errorCode === 'ECONNRESET' || f.errorCode === 'ETIMEDOUT' || f.errorCode === 'EPIPE') && f.idempotent) return backoff;
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

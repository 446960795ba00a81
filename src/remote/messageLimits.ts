import { RemoteUnavailableError } from '../errors.js';

/** How much of one message from the gateway the bridge reads: every limit is enforced while reading. */
export interface MessageLimits {
  /** A message streamed to the IDE as it arrives stops at this size (--max-message-size). */
  maxMessageBytes: number;
  /**
   * A message that must be held whole stops at this size: an answer to initialize, a tools/list
   * answer the policy filters, an event on the legacy HTTP+SSE stream. Held, joined and parsed, a
   * message costs a few times its size in memory: this keeps the bridge under 100 MiB.
   */
  maxWholeMessageBytes: number;
}

const MiB = 1024 * 1024;

/** Default of --max-message-size. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * MiB;
/** Largest message held whole (see MessageLimits.maxWholeMessageBytes). */
export const MAX_WHOLE_MESSAGE_BYTES = 8 * MiB;
/** An SSE line that is not data (comment, event, id, retry) is short; a longer one is refused. */
export const MAX_SSE_FIELD_LINE_BYTES = 64 * 1024;
/** The longest reconnection delay an SSE `retry:` field may ask for. */
export const MAX_SSE_RETRY_MS = 30_000;

/** The limits for a --max-message-size in bytes (the whole-message limit never exceeds it). */
export function messageLimits(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): MessageLimits {
  return { maxMessageBytes, maxWholeMessageBytes: Math.min(maxMessageBytes, MAX_WHOLE_MESSAGE_BYTES) };
}

/** The gateway sent more than a limit allows: the request it was answering gets this error. */
export class MessageTooLargeError extends RemoteUnavailableError {
  constructor(what: string, limitBytes: number) {
    super(`the gateway sent ${what} larger than ${formatBytes(limitBytes)}; it was not relayed (raise --max-message-size if the gateway is trusted)`, {
      code: 'message_too_large',
    });
  }
}

function formatBytes(n: number): string {
  return n >= MiB && n % MiB === 0 ? `${n / MiB} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

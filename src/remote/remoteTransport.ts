import type { Clock } from '../deps.js';
import type { Logger } from '../log/logger.js';
import type { JsonRpcMessage } from '../relay/jsonRpc.js';
import type { MessageLease } from '../relay/stdoutWriter.js';
import type { HttpClient } from './httpClient.js';
import type { MessageLimits } from './messageLimits.js';
import type { RemoteAuth } from './remoteAuth.js';

/** A message from the IDE, parsed once by the relay; raw is the exact text to forward. */
export interface Outgoing {
  raw: string;
  msg: JsonRpcMessage;
  /** Aborted when the IDE cancels this request: the transport stops waiting for its answer. */
  signal?: AbortSignal;
  /** The policy reads this request's answer whole (tools/list it filters): never stream it to the IDE. */
  wholeAnswer?: boolean;
}

/**
 * Hands a message from the gateway to the IDE side. raw is the message's JSON (text or the bytes
 * received), always one line, written without re-serializing; msg is set when it was parsed.
 * The returned promise resolves when the sink accepted it (backpressure).
 */
export type Deliver = (raw: string | Buffer, msg?: JsonRpcMessage) => void | Promise<void>;

export type TransportKind = 'streamable-http' | 'sse';
export type TransportChoice = TransportKind | 'auto';

/** The remote half of the bridge. */
export interface RemoteTransport {
  readonly kind: TransportKind;
  /**
   * Forward one message. For a request, resolves once its response has been delivered and
   * rejects (with a KeybridgeError) if it cannot be; for anything else, once the gateway took it.
   */
  send(out: Outgoing): Promise<void>;
  /** End the remote session (DELETE for Streamable HTTP) and abort everything in flight. */
  close(): Promise<void>;
}

/** What every transport is built from. */
export interface TransportContext {
  url: URL;
  http: HttpClient;
  /** Static headers from --header/--header-file (values already expanded; registered as secrets). */
  headers: Record<string, string>;
  /** Sign-in; absent when a static Authorization header is configured or auth is off. */
  auth?: RemoteAuth;
  log: Logger;
  deliver: Deliver;
  /**
   * Exclusive use of the IDE side for one large message written as it arrives; absent when every
   * message must be delivered whole.
   */
  openMessage?: () => Promise<MessageLease>;
  /** How much of one message is read (default: messageLimits(), --max-message-size 64 MiB). */
  limits?: MessageLimits;
  /** Waits (for backoff/retry) go through here so tests are not slowed by real sleeps. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
  clock: Clock;
}

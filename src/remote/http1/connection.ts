import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { DRAIN_LIMIT_BYTES, DRAIN_LIMIT_MS, type BodySource, type ChunkResult } from '../bodySource.js';
import type { HttpResponse } from '../httpClient.js';
import { abortError, codedError, notWritten } from './failures.js';
import { ResponseParser } from './responseParser.js';

/**
 * Socket reads land in a buffer of this size: TLS hands over at most one record (16 KiB) a read.
 * A read that fills at least half of it is handed to the body's reader as it is, and the next read
 * gets a fresh buffer; a smaller one is copied out (right-sized) and the buffer is read into again.
 * So a piece is always its reader's to keep, and holds at most twice its size.
 */
const READ_BYTES_TCP = 64 * 1024;
const READ_BYTES_TLS = 16 * 1024;

export interface ConnectionTarget {
  url: URL;
  connectMs: number;
}

/** One request on this connection: its serialized head and body, and its deadlines. */
export interface Exchange {
  head: string;
  body: string | undefined;
  method: string;
  headersMs: number;
  bodyIdleMs: number;
  signal?: AbortSignal;
}

/** Told when the connection is free for another exchange, or closed (then it is not `usable`). */
export type ReleaseHandler = (conn: Connection) => void;

/** What one exchange's body needs to know after the connection moved on. */
interface ExchangeRecord {
  done: boolean;
  failure?: Error;
}

/**
 * One HTTP/1.1 connection, one exchange at a time, read with `onread` (no stream machinery between
 * the socket and the body's reader: see BodySource). Reading follows the reader: while it holds a
 * piece (its promise pending) or has not asked for the body yet, the socket is not read, and the
 * gateway's sending waits in the kernel's buffers.
 */
export class Connection {
  readonly socket: net.Socket;
  /** When it last became idle (monotonic ms), or undefined while in use. */
  idleSince: number | undefined;
  /** It has carried no exchange yet (opened ahead of one: see park). */
  fresh = true;
  /** How long the server said it keeps an idle connection (`Keep-Alive: timeout=N`), if it did. */
  serverIdleMs: number | undefined;
  private readonly readBytes: number;
  private readBuffer: Buffer;
  private parser: ResponseParser | undefined;
  private current: ExchangeRecord | undefined;
  private headWaiter: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | undefined;
  private consumer: ((chunk: Buffer) => ChunkResult) | undefined;
  private bodyWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** The head was handed over; the body waits for forEach or discard. */
  private holding = false;
  /** A reader's promise is pending. */
  private blocked = false;
  /**
   * Reads that arrived while the reader was busy, in order; the socket is paused until they are
   * taken. More than one: a TLS socket hands over every record it already decrypted, paused or not.
   */
  private stash: Buffer[] = [];
  /** The peer ended its side. */
  private eof = false;
  /** TCP (and TLS) are up: before that, no byte of a request can have reached the server. */
  private connected = false;
  private failure: Error | undefined;
  /** The current exchange's body idle deadline. */
  private bodyIdleMs = 0;
  private headersTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private abortCleanup: (() => void) | undefined;

  constructor(
    private readonly target: ConnectionTarget,
    private readonly released: ReleaseHandler,
  ) {
    const { url } = target;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const isHttps = url.protocol === 'https:';
    const port = Number(url.port) || (isHttps ? 443 : 80);
    this.readBytes = isHttps ? READ_BYTES_TLS : READ_BYTES_TCP;
    this.readBuffer = Buffer.allocUnsafeSlow(this.readBytes);
    const onread = { buffer: () => this.readBuffer, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf as Buffer) };
    // allowHalfOpen: the server's FIN must not destroy the socket under a response still being
    // read (what was received is read to its end; 'end' and ended() close it).
    const common = { host, port, onread, allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 };
    this.socket = isHttps
      ? process.getBuiltinModule('node:tls').connect({ ...common, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : net.connect(common);
    this.startConnectTimer();
    this.socket.once(isHttps ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      clearTimeout(this.connectTimer);
      // tls.connect takes neither option from its arguments (node:https's agent sets them so too).
      if (isHttps) this.socket.setNoDelay(true).setKeepAlive(true, 15_000);
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('end', () => {
      this.eof = true;
      if (this.parser && !this.blocked && !this.holding) this.continue();
      else if (!this.parser) this.socket.destroy();
    });
    this.socket.on('close', () => {
      clearTimeout(this.connectTimer);
      this.fail(codedError('ECONNRESET', `the connection to ${url.host} closed`));
    });
    this.socket.on('timeout', () => {
      if (this.idleSince !== undefined) this.socket.destroy();
      else this.fail(codedError('ETIMEDOUT', `response body from ${url.host} stalled`));
    });
  }

  /** The connect deadline, from now (again when a request takes a connection opened ahead: it gets its full budget). */
  private startConnectTimer(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => this.fail(codedError('ETIMEDOUT', `connect to ${this.target.url.host} timed out`)), this.target.connectMs);
  }

  /** True while it can carry a new exchange. */
  get usable(): boolean {
    return this.failure === undefined && !this.socket.destroyed && this.socket.writable && !this.eof && this.parser === undefined;
  }

  /** Send one request and resolve with the response head (its body to be read from it). */
  exchange(x: Exchange): Promise<HttpResponse> {
    const { signal } = x;
    this.idleSince = undefined;
    if (this.fresh && !this.connected) this.startConnectTimer();
    this.fresh = false;
    this.socket.ref();
    this.socket.setTimeout(0);
    this.bodyIdleMs = x.bodyIdleMs;
    if (this.failure) return Promise.reject(this.failure);
    this.parser = new ResponseParser({ method: x.method });
    this.current = { done: false };
    const result = new Promise<HttpResponse>((resolve, reject) => {
      this.headWaiter = { resolve, reject };
    });
    if (signal?.aborted) {
      this.fail(abortError(signal.reason));
      return result;
    }
    if (signal) {
      const onAbort = (): void => this.fail(abortError(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      this.abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.headersTimer = setTimeout(() => this.fail(codedError('ETIMEDOUT', `no response from ${this.target.url.host} within ${x.headersMs} ms`)), x.headersMs);
    this.socket.cork();
    this.socket.write(x.head, 'latin1');
    if (x.body !== undefined) this.socket.write(x.body, 'utf8');
    this.socket.uncork();
    this.socket.resume();
    return result;
  }

  /**
   * Idle in the pool from now on: opened ahead of any request (preconnect), or after an exchange.
   * Once connected, it does not keep the process alive; it closes itself after IDLE_CLOSE_MS.
   */
  park(): void {
    this.idleSince = monotonicMs();
    this.socket.setTimeout(IDLE_CLOSE_MS);
    this.socket.unref();
    this.released(this);
  }

  /** Close it (and fail what is under way). */
  destroy(err?: Error): void {
    this.fail(err ?? codedError('ECONNRESET', 'the connection was closed'));
  }

  private onRead(nread: number, buf: Buffer): boolean {
    let chunk: Buffer;
    if (nread >= this.readBytes / 2) {
      chunk = buf.subarray(0, nread);
      this.readBuffer = Buffer.allocUnsafeSlow(this.readBytes);
    } else {
      chunk = Buffer.from(buf.subarray(0, nread));
    }
    if (!this.parser) {
      // Bytes nobody asked for on an idle connection: it cannot be trusted with a request.
      this.socket.destroy();
      return false;
    }
    if (this.blocked || this.holding || this.stash.length > 0) {
      this.stash.push(chunk);
      return false;
    }
    this.parser.feed(chunk);
    // Reading goes on while a reader's promise settles: it usually does within this turn, before
    // the next read, and stopping and restarting the socket for every piece costs two syscalls.
    return this.pump() || this.blocked;
  }

  /** Take the parser's steps while the reader keeps up; true when it needs more bytes from the socket. */
  private pump(): boolean {
    const parser = this.parser;
    while (parser && parser === this.parser && !this.blocked && !this.holding && this.failure === undefined) {
      let step;
      try {
        step = parser.next();
        if (step === undefined && this.stash.length > 0) {
          parser.feed(this.stash.shift()!);
          continue;
        }
        if (step === undefined && this.eof) step = parser.closed();
      } catch (err) {
        this.fail(err as Error);
        return false;
      }
      if (step === undefined) return true;
      if (step.kind === 'head') this.headArrived(step.head.status, step.head.headers);
      else if (step.kind === 'body') this.deliver(step.data);
      else this.ended();
    }
    // Back in the pool: the socket is read, to see the server close it (or misbehave).
    return this.parser === undefined && this.usable;
  }

  /** Pump again after a pause, and read the socket again when the parser wants bytes. */
  private continue(): void {
    if (this.pump() && !this.socket.destroyed) this.socket.resume();
  }

  private headArrived(status: number, headers: IncomingHttpHeaders): void {
    clearTimeout(this.headersTimer);
    // Keep-Alive: timeout=N (RFC 2068 §19.7.1.1, as servers send it); the smallest if there are several.
    const timeouts = [...String(headers['keep-alive'] ?? '').matchAll(/(?:^|[\s,;])timeout\s*=\s*(\d{1,6})/gi)].map((m) => Number(m[1]) * 1000);
    this.serverIdleMs = timeouts.length > 0 ? Math.min(...timeouts) : undefined;
    this.socket.setTimeout(this.bodyIdleMs);
    // A body that is already complete (204, HEAD, Content-Length: 0) frees the connection at once.
    this.holding = !this.parser!.bodyless;
    const waiter = this.headWaiter;
    this.headWaiter = undefined;
    waiter?.resolve({ status, headers, body: this.bodySource(this.current!) });
  }

  /** The body of exchange ex: once it is over, its source only reports how it ended. */
  private bodySource(ex: ExchangeRecord): BodySource {
    let used = false;
    const live = (): boolean => !ex.done && this.current === ex;
    return {
      forEach: (onChunk) => {
        if (used) return Promise.reject(new Error('a response body is read once'));
        used = true;
        if (ex.failure) return Promise.reject(ex.failure);
        if (!live() || !this.holding) return Promise.resolve(); // already complete
        return new Promise<void>((resolve, reject) => {
          this.bodyWaiter = { resolve, reject };
          this.consumer = onChunk;
          this.holding = false;
          this.continue();
        });
      },
      discard: () => {
        if (used) return;
        used = true;
        if (live() && this.holding) this.drain();
      },
      destroy: (err) => {
        if (live()) this.fail(err ?? codedError('ECONNRESET', 'the response body was abandoned'));
      },
    };
  }

  private deliver(data: Buffer): void {
    let r: ChunkResult;
    try {
      r = this.consumer!(data);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (r === undefined || r === false) return;
    if (r === true) {
      this.stop();
      return;
    }
    this.blocked = true;
    r.then(
      (v) => {
        this.blocked = false;
        if (v === true) this.stop();
        this.continue();
      },
      (err: Error) => {
        this.blocked = false;
        this.fail(err);
      },
    );
  }

  /** The reader has what it wanted: it is told the body ended, and the rest is drained. */
  private stop(): void {
    const waiter = this.bodyWaiter;
    this.bodyWaiter = undefined;
    waiter?.resolve();
    this.drain();
  }

  /** Read the rest within bounds (DRAIN_LIMIT_*), then the connection serves again; past them it is closed. */
  private drain(): void {
    if (!this.parser!.keepsConnection) {
      this.destroy(); // not to be reused: nothing to drain it for
      return;
    }
    let seen = 0;
    this.holding = false;
    this.consumer = (chunk) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT_BYTES) this.destroy();
    };
    this.drainTimer = setTimeout(() => this.destroy(), DRAIN_LIMIT_MS);
    this.drainTimer.unref();
    this.continue();
  }

  /** The response is complete: the reader is told, and the connection goes back to the pool (or is closed). */
  private ended(): void {
    const parser = this.parser!;
    const reusable = parser.keepsConnection && parser.leftover === 0 && this.stash.length === 0 && !this.eof;
    this.finishExchange();
    const waiter = this.bodyWaiter;
    this.bodyWaiter = undefined;
    waiter?.resolve();
    if (reusable) this.park();
    else this.socket.destroy();
  }

  private finishExchange(failure?: Error): void {
    if (this.current) {
      this.current.done = true;
      this.current.failure = failure;
      this.current = undefined;
    }
    clearTimeout(this.headersTimer);
    clearTimeout(this.drainTimer);
    this.abortCleanup?.();
    this.abortCleanup = undefined;
    this.parser = undefined;
    this.consumer = undefined;
    this.stash = [];
    this.holding = false;
    this.blocked = false;
  }

  private fail(failure: Error): void {
    if (this.failure) return;
    const err = this.connected ? failure : notWritten(failure);
    this.failure = err;
    const head = this.headWaiter;
    const body = this.bodyWaiter;
    this.headWaiter = undefined;
    this.bodyWaiter = undefined;
    this.finishExchange(err);
    this.socket.destroy();
    head?.reject(err);
    body?.reject(err);
    this.released(this);
  }
}

/**
 * An idle kept-alive connection is closed after this long: node's http server closes its own after
 * 5 s (keepAliveTimeout), proxies after more, and a connection the server may be closing is never
 * handed a request (see SocketHttpClient).
 */
export const IDLE_CLOSE_MS = 2_000;

/** Monotonic milliseconds (process.hrtime: the global performance would load node:perf_hooks at start). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

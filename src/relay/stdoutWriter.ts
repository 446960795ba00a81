import type { ByteSink } from '../deps.js';
import type { Envelope } from './envelopeScanner.js';
import type { GcPacer } from './gcPacer.js';

const NEWLINE = Buffer.from('\n');

/** Exclusive use of stdout for one message written in pieces (a large answer, as it arrives). */
export interface MessageLease {
  /** The next piece of the message (no line breaks); the promise waits while the pipe is full. */
  write(piece: Buffer): void | Promise<void>;
  /** End the message's line (when anything was written) and hand stdout to the next writer. */
  end(): void | Promise<void>;
  /** Told the message's envelope once it is complete (undefined: not one well-formed object). */
  settled?(env: Envelope | undefined): void;
}

/**
 * The only writer of stdout in bridge mode: one JSON-RPC message per line, in the order asked,
 * never interleaved. stdout is a pipe that Node writes asynchronously, queueing in memory whatever
 * the IDE has not read yet; so whenever the pipe is full, every writer waits (in FIFO order) for
 * 'drain' instead of queueing more. The waits travel back to the readers of the gateway's streams,
 * which stop reading their sockets meanwhile: the bridge never holds more than about one message.
 */
export class MessageWriter {
  private broken = false;
  /** A writer holds stdout: a message being streamed, or one waiting for the pipe to drain. */
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  private drainWaiter?: Promise<void>;

  constructor(
    private readonly sink: ByteSink,
    private readonly pacer?: GcPacer,
  ) {
    sink.on('error', () => {
      this.broken = true;
    });
  }

  /** True once stdout failed (the IDE went away). */
  get closed(): boolean {
    return this.broken;
  }

  /** Write one message (already JSON, single line): text, or the bytes as received. Resolves when stdout can take more. */
  write(json: string | Buffer): void | Promise<void> {
    if (this.broken) return;
    const turn = this.acquire();
    if (turn) return turn.then(() => this.writeHeld(json));
    return this.writeHeld(json);
  }

  /** Serialize and write a message object. */
  writeMessage(msg: unknown): void | Promise<void> {
    return this.write(JSON.stringify(msg));
  }

  /** Wait for stdout, then hold it for one message written piece by piece. */
  async openMessage(): Promise<MessageLease> {
    await this.acquire();
    let wrote = false;
    let ended = false;
    return {
      write: (piece) => {
        if (ended || this.broken || piece.length === 0) return;
        wrote = true;
        this.pacer?.note(piece.length);
        return this.sink.write(piece) ? undefined : this.drained();
      },
      end: () => {
        if (ended) return;
        ended = true;
        if (!wrote || this.broken) {
          this.release();
          return;
        }
        return this.writeHeld(NEWLINE);
      },
    };
  }

  /** Write while holding stdout; release it once the pipe can take more. */
  private writeHeld(json: string | Buffer): void | Promise<void> {
    if (this.broken) {
      this.release();
      return;
    }
    let ok: boolean;
    if (typeof json === 'string') {
      // Counted like streamed bytes: a filtered tools/list can be megabytes of text.
      this.pacer?.note(json.length);
      ok = this.sink.write(json + '\n');
    } else if (json === NEWLINE) {
      ok = this.sink.write(NEWLINE);
    } else {
      // Two writes rather than a concatenated copy of a possibly large message.
      this.pacer?.note(json.length);
      this.sink.write(json);
      ok = this.sink.write(NEWLINE);
    }
    if (ok) {
      this.release();
      return;
    }
    return this.drained().then(() => this.release());
  }

  /** Undefined when stdout is free now (and taken); else a promise for the caller's turn. */
  private acquire(): void | Promise<void> {
    if (!this.busy) {
      this.busy = true;
      return;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hand stdout to the next writer in line (it stays busy), or free it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  /** Resolves on 'drain' (or when stdout failed or closed: nothing more will be written). */
  private drained(): Promise<void> {
    if (!this.drainWaiter) {
      this.drainWaiter = new Promise<void>((resolve) => {
        const done = (): void => {
          this.sink.off('drain', done);
          this.sink.off('error', done);
          this.sink.off('close', done);
          this.drainWaiter = undefined;
          resolve();
        };
        this.sink.on('drain', done);
        this.sink.on('error', done);
        this.sink.on('close', done);
      });
    }
    return this.drainWaiter;
  }
}

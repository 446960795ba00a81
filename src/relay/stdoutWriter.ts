import type { ByteSink } from '../deps.js';

const NEWLINE = Buffer.from('\n');

/**
 * The only writer of stdout in bridge mode: one JSON-RPC message per line, in order, honouring
 * backpressure (the returned promise waits for 'drain' when the pipe is full).
 */
export class MessageWriter {
  private broken = false;
  private drainWaiter?: Promise<void>;

  constructor(private readonly sink: ByteSink) {
    sink.on('error', () => {
      this.broken = true;
    });
  }

  /** True once stdout failed (the IDE went away). */
  get closed(): boolean {
    return this.broken;
  }

  /** Write one message (already JSON, single line): text, or the bytes as received. */
  write(json: string | Buffer): void | Promise<void> {
    if (this.broken) return;
    let ok: boolean;
    if (typeof json === 'string') {
      ok = this.sink.write(json + '\n');
    } else {
      // Two writes rather than a concatenated copy of a possibly large message.
      this.sink.write(json);
      ok = this.sink.write(NEWLINE);
    }
    if (ok) return;
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

  /** Serialize and write a message object. */
  writeMessage(msg: unknown): void | Promise<void> {
    return this.write(JSON.stringify(msg));
  }
}

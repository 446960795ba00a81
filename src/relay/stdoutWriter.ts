import type { ByteSink } from '../deps.js';

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

  /** Write one message (already JSON, single line). */
  write(json: string): void | Promise<void> {
    if (this.broken) return;
    const ok = this.sink.write(json + '\n');
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

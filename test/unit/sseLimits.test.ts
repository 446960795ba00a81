import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readableBody, type BodySource } from '../../src/remote/bodySource.js';
import { MessageTooLargeError, messageLimits } from '../../src/remote/messageLimits.js';
import { consumeSse, type LargeDataHandler, type SseState } from '../../src/remote/sseStream.js';

const KiB = 1024;

/** A body of `count` chunks made by `make`, generated lazily (never held whole). */
function body(count: number, make: (i: number) => string): BodySource {
  return readableBody(Readable.from((function* () {
    for (let i = 0; i < count; i++) yield Buffer.from(make(i));
  })()));
}

/** A sink that only counts what it was given. */
function countingHandler(thresholdBytes: number): LargeDataHandler & { written: number; aborted: boolean; ended: number } {
  const h = {
    thresholdBytes,
    written: 0,
    aborted: false,
    ended: 0,
    begin: async () => ({
      write: (p: Buffer) => void (h.written += p.length),
      lineBreak: () => void (h.written += 1),
      end: () => void h.ended++,
      abort: () => void (h.aborted = true),
    }),
  };
  return h;
}

describe('SSE reader limits (a hostile stream costs an error, not memory)', () => {
  it('refuses a comment line that never ends', async () => {
    const run = consumeSse(body(10_000, (i) => (i === 0 ? ':' : 'x'.repeat(KiB))), {}, () => undefined);
    await expect(run).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(run).rejects.toThrow(/not data/);
  });
  it('refuses joined data lines past the whole-message limit when nothing streams them', async () => {
    const limits = messageLimits(256 * KiB);
    const run = consumeSse(body(100_000, () => `data: ${'y'.repeat(KiB)}\n`), {}, () => undefined, undefined, limits);
    await expect(run).rejects.toThrow(/larger than 256 KiB/);
  });
  it('hands many short data lines to the sink, then stops at --max-message-size', async () => {
    const handler = countingHandler(64 * KiB);
    const limits = messageLimits(1024 * KiB);
    const run = consumeSse(body(100_000, () => `data: ${'z'.repeat(KiB)}\n`), {}, () => undefined, handler, limits);
    await expect(run).rejects.toThrow(/larger than 1 MiB/);
    expect(handler.aborted).toBe(true);
    expect(handler.written).toBeGreaterThan(64 * KiB);
    expect(handler.written).toBeLessThanOrEqual(1024 * KiB);
  });
  it('stops one long data line at --max-message-size', async () => {
    const handler = countingHandler(64 * KiB);
    const run = consumeSse(body(100_000, (i) => (i === 0 ? 'data: ' : 'w'.repeat(KiB))), {}, () => undefined, handler, messageLimits(512 * KiB));
    await expect(run).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(handler.aborted).toBe(true);
  });
  it('still relays a large event under the limits', async () => {
    const handler = countingHandler(64 * KiB);
    await consumeSse(body(1, () => `data: ${'v'.repeat(300 * KiB)}\ndata: tail\n\n`), {}, () => undefined, handler, messageLimits(1024 * KiB));
    expect(handler.ended).toBe(1);
    expect(handler.written).toBe(300 * KiB + 1 + 4);
  });
  it('caps retry: at 30 s', async () => {
    const state: SseState = {};
    await consumeSse(body(1, () => 'retry: 999999999999\n\n'), state, () => undefined);
    expect(state.retryMs).toBe(30_000);
  });
});

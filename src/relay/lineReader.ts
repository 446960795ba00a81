import type { ByteSource } from '../deps.js';

/** The longest line accepted from the IDE (a request with large arguments stays well below it). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** What forEachLine does with a line that exceeds the limit. */
export interface LineLimit {
  maxLineBytes: number;
  /** Called once per oversized line, after its bytes were skipped up to its newline (never held). */
  onOversize: (bytes: number) => void | Promise<void>;
}

/**
 * Split a byte stream into newline-delimited lines (MCP stdio framing) without copying a large
 * message more than once: chunks are kept until a newline arrives, then joined and decoded.
 * The handler is awaited, so a slow consumer pauses reading (backpressure). A line longer than
 * the limit is not kept: its bytes are counted and dropped up to its newline, so a peer that never
 * sends a newline costs no memory.
 */
export async function forEachLine(source: ByteSource, onLine: (line: string) => void | Promise<void>, limit?: LineLimit): Promise<void> {
  const max = limit?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let parts: Buffer[] = [];
  let size = 0;
  /** Bytes of the current line dropped so far (the line is over the limit), or -1. */
  let skipped = -1;
  const endOversized = async (): Promise<void> => {
    const bytes = skipped;
    skipped = -1;
    const r = limit?.onOversize(bytes);
    if (r) await r;
  };
  for await (const data of source) {
    let chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      const head = chunk.subarray(0, nl);
      if (skipped >= 0 || size + head.length > max) {
        if (skipped < 0) skipped = size;
        skipped += head.length;
        parts = [];
        size = 0;
        await endOversized();
      } else {
        const line = size === 0 ? head.toString('utf8') : Buffer.concat([...parts, head], size + head.length).toString('utf8');
        parts = [];
        size = 0;
        const r = onLine(stripCr(line));
        if (r) await r;
      }
      chunk = chunk.subarray(nl + 1);
      nl = chunk.indexOf(10);
    }
    if (chunk.length === 0) continue;
    if (skipped >= 0) {
      skipped += chunk.length;
    } else if (size + chunk.length > max) {
      skipped = size + chunk.length;
      parts = [];
      size = 0;
    } else {
      parts.push(chunk);
      size += chunk.length;
    }
  }
  if (skipped >= 0) await endOversized();
  else if (size > 0) {
    const r = onLine(stripCr(Buffer.concat(parts, size).toString('utf8')));
    if (r) await r;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

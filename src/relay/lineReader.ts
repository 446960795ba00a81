import type { ByteSource } from '../deps.js';

/**
 * Split a byte stream into newline-delimited lines (MCP stdio framing) without copying a large
 * message more than once: chunks are kept until a newline arrives, then joined and decoded.
 * The handler is awaited, so a slow consumer pauses reading (backpressure).
 */
export async function forEachLine(source: ByteSource, onLine: (line: string) => void | Promise<void>): Promise<void> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const data of source) {
    let chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      const head = chunk.subarray(0, nl);
      const line = size === 0 ? head.toString('utf8') : Buffer.concat([...parts, head], size + head.length).toString('utf8');
      parts = [];
      size = 0;
      const r = onLine(stripCr(line));
      if (r) await r;
      chunk = chunk.subarray(nl + 1);
      nl = chunk.indexOf(10);
    }
    if (chunk.length > 0) {
      parts.push(chunk);
      size += chunk.length;
    }
  }
  if (size > 0) {
    const r = onLine(stripCr(Buffer.concat(parts, size).toString('utf8')));
    if (r) await r;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

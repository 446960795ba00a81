import type { Readable } from 'node:stream';

/** What a chunk handler returns: true stops the reading; a promise holds it until it settles. */
export type ChunkResult = boolean | void | Promise<boolean | void>;

/**
 * A response body as the remote transports read it: pushed chunk by chunk to one handler, which
 * runs while the chunk is fresh off the socket. No stream machinery sits between the socket and
 * the handler (measured: a Readable and its async iterator cost more CPU per MiB than the socket
 * read itself, and hold every chunk for longer).
 */
export interface BodySource {
  /**
   * Hand the body to onChunk piece by piece; each piece is the handler's to keep. A promise the
   * handler returns holds the reading until it settles (backpressure). True (or a promise of true)
   * stops: what is left of the body is drained within bounds (see discard), so the connection can
   * serve again. Resolves when the body ended or was stopped; rejects when it broke, was destroyed
   * or the handler threw (the body is destroyed then). Called at most once.
   */
  forEach(onChunk: (chunk: Buffer) => ChunkResult): Promise<void>;
  /**
   * Nothing (more) of it is wanted: read what is left, at most DRAIN_LIMIT_BYTES for at most
   * DRAIN_LIMIT_MS, and let the connection serve again; a body past those bounds (a stream that
   * keeps talking, or stalls) is destroyed with its connection.
   */
  discard(): void;
  /** Close it now, with its connection. */
  destroy(err?: Error): void;
}

export const DRAIN_LIMIT_BYTES = 64 * 1024;
export const DRAIN_LIMIT_MS = 2_000;

/** A body that is already in memory (an error body read earlier, a test). */
export function bytesBody(bytes: Buffer): BodySource {
  let gone = false;
  return {
    async forEach(onChunk) {
      if (gone) return;
      gone = true;
      if (bytes.length > 0) await onChunk(bytes);
    },
    discard: () => {
      gone = true;
    },
    destroy: () => {
      gone = true;
    },
  };
}

/** A node Readable (undici's body behind a proxy, a test's stream) as a BodySource. */
export function readableBody(body: Readable): BodySource {
  return {
    async forEach(onChunk) {
      try {
        // destroyOnReturn: false: stopping early drains instead of tearing the connection down.
        for await (const chunk of body.iterator({ destroyOnReturn: false })) {
          let r = onChunk(chunk as Buffer);
          if (r !== undefined && typeof r !== 'boolean') r = await r;
          if (r === true) {
            drainReadable(body);
            return;
          }
        }
      } catch (err) {
        body.destroy();
        throw err;
      }
    },
    discard: () => drainReadable(body),
    destroy: (err) => body.destroy(err),
  };
}

function drainReadable(body: Readable): void {
  let seen = 0;
  const timer = setTimeout(() => body.destroy(), DRAIN_LIMIT_MS);
  timer.unref();
  body.on('data', (b: Buffer) => {
    seen += b.length;
    if (seen > DRAIN_LIMIT_BYTES) body.destroy();
  });
  body.on('error', () => undefined);
  body.on('close', () => clearTimeout(timer));
  body.on('end', () => clearTimeout(timer));
  body.resume();
}

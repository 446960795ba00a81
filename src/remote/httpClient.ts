import type { IncomingHttpHeaders } from 'node:http';
import type { BodySource } from './bodySource.js';
import { MAX_WHOLE_MESSAGE_BYTES, MessageTooLargeError } from './messageLimits.js';

/** One HTTP exchange as the remote transports need it: streaming body, abortable. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body; must be read, discarded or destroyed by the caller. */
  body: BodySource;
}

/** The transport's view of HTTP; the default is SocketHttpClient (HTTP/1.1 with keep-alive), a proxy variant uses undici. */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Redirects are not followed here: the transports decide (a token never crosses origins). */
  close(): Promise<void>;
  /** Open a connection to url's origin ahead of the first request (optional: a hint). */
  preconnect?(url: URL): void;
}

export interface HttpTimeouts {
  /** TCP+TLS connect deadline. */
  connectMs: number;
  /** Deadline for the response headers after the request was sent. */
  headersMs: number;
  /** Longest silence allowed while reading a body (SSE streams send keep-alives or data). */
  bodyIdleMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 10_000, headersMs: 120_000, bodyIdleMs: 300_000 };

/** Read a whole body as bytes, refusing it past limitBytes while reading (default: the whole-message limit, 8 MiB). */
export async function readBytes(body: BodySource, limitBytes = MAX_WHOLE_MESSAGE_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  await body.forEach((chunk) => {
    size += chunk.length;
    if (size > limitBytes) throw new MessageTooLargeError('a response', limitBytes);
    chunks.push(chunk);
  });
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Read a whole body as UTF-8 text. */
export async function readText(body: BodySource, limitBytes = MAX_WHOLE_MESSAGE_BYTES): Promise<string> {
  return (await readBytes(body, limitBytes)).toString('utf8');
}

import { UnsafeServerError } from '../errors.js';

/**
 * Every answer of an authorization server or a metadata endpoint is small (a metadata document, a
 * token response, a JWKS): 1 MiB is far beyond any, and a hostile server cannot make the bridge
 * hold more. Enforced while the body is read, not after.
 */
export const MAX_OAUTH_RESPONSE_BYTES = 1024 * 1024;

/** The body stream of a response, erroring as soon as more than maxBytes arrived. */
function limitedBody(body: ReadableStream<Uint8Array>, maxBytes: number, url: string): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(tooLarge(url, maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
}

function tooLarge(url: string, maxBytes: number): UnsafeServerError {
  return new UnsafeServerError(`the answer from ${safeOrigin(url)} is larger than ${maxBytes} bytes; refusing it`, 'response_too_large');
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the server';
  }
}

/** A fetch whose response bodies stop at maxBytes (a Content-Length above it is refused before reading). */
export function boundedFetch(fetchFn: typeof globalThis.fetch, maxBytes = MAX_OAUTH_RESPONSE_BYTES): typeof globalThis.fetch {
  return async (input, init) => {
    const res = await fetchFn(input, init);
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge(res.url, maxBytes);
    }
    if (!res.body) return res;
    const bounded = new Response(limitedBody(res.body, maxBytes, res.url), { status: res.status, statusText: res.statusText, headers: res.headers });
    // Response's constructor cannot set these; callers (openid-client) may read them.
    Object.defineProperty(bounded, 'url', { value: res.url });
    Object.defineProperty(bounded, 'redirected', { value: res.redirected });
    return bounded;
  };
}

/** Read a response body as text, refusing (UnsafeServerError) past maxBytes while reading. */
export async function readBoundedText(res: Response, maxBytes: number, what: string): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (err) {
      if (err instanceof UnsafeServerError) throw err;
      throw new UnsafeServerError(`${what} could not be read: ${(err as Error).message}`, 'bad_resource_metadata');
    }
    if (step.done) break;
    size += step.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new UnsafeServerError(`${what} is larger than ${maxBytes} bytes; refusing it`, 'bad_resource_metadata');
    }
    chunks.push(step.value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

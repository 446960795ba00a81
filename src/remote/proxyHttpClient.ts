import type { Readable } from 'node:stream';
import { readableBody } from './bodySource.js';
import { DEFAULT_TIMEOUTS, type HttpClient, type HttpRequest, type HttpResponse, type HttpTimeouts } from './httpClient.js';

/** True when HTTPS_PROXY/HTTP_PROXY (either case) is set: only then is undici loaded. */
export function proxyConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy);
}

/** HTTP through undici's EnvHttpProxyAgent, which honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY. */
export async function createProxyHttpClient(timeouts: Partial<HttpTimeouts> = {}): Promise<HttpClient> {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  const undici = await import('undici');
  const agent = new undici.EnvHttpProxyAgent({
    connect: { timeout: t.connectMs },
    headersTimeout: t.headersMs,
    bodyTimeout: t.bodyIdleMs,
  });
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const res = await undici.request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        dispatcher: agent,
      });
      return { status: res.statusCode, headers: res.headers as HttpResponse['headers'], body: readableBody(res.body as unknown as Readable) };
    },
    async close() {
      await agent.close();
    },
  };
}

/** A fetch bound to the proxy agent, for openid-client (off the hot path). */
export async function createProxyFetch(timeouts: Partial<HttpTimeouts> = {}): Promise<typeof globalThis.fetch> {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  const undici = await import('undici');
  const agent = new undici.EnvHttpProxyAgent({ connect: { timeout: t.connectMs }, headersTimeout: t.headersMs, bodyTimeout: t.bodyIdleMs });
  return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
    undici.fetch(input as never, { ...(init as object), dispatcher: agent } as never)) as unknown as typeof globalThis.fetch;
}

import type { HttpClient, HttpRequest, HttpResponse } from './httpClient.js';

const MAX_REDIRECTS = 3;

/** A response and the URL that actually produced it (after redirects). */
export type RedirectedResponse = HttpResponse & { finalUrl: URL };

/**
 * Follow 307/308 redirects (method and body kept), at most a few. Credentials are origin-bound:
 * on a hop to another origin the Authorization header and every static header are dropped, so a
 * token is only ever sent to the gateway's own origin.
 */
export async function requestFollowingRedirects(
  http: HttpClient,
  req: HttpRequest,
  credentialHeaders: readonly string[],
): Promise<RedirectedResponse> {
  let current: HttpRequest = req;
  const origin = req.url.origin;
  for (let hop = 0; ; hop++) {
    const res = await http.request(current);
    const location = res.headers.location;
    if ((res.status !== 307 && res.status !== 308) || !location || hop >= MAX_REDIRECTS) {
      return { ...res, finalUrl: current.url };
    }
    res.body.discard();
    const next = new URL(location, current.url);
    // Never to another scheme, and never from https down to plain http (the body is the IDE's data).
    if (next.protocol !== 'https:' && next.protocol !== 'http:') return { ...res, finalUrl: current.url };
    if (current.url.protocol === 'https:' && next.protocol !== 'https:') return { ...res, finalUrl: current.url };
    const headers = { ...current.headers };
    if (next.origin !== origin) {
      for (const name of Object.keys(headers)) {
        // A DPoP proof names this origin's URL and hashes the token: it goes with the Authorization header.
        const lower = name.toLowerCase();
        if (lower === 'authorization' || lower === 'dpop' || credentialHeaders.includes(lower)) delete headers[name];
      }
    }
    current = { ...current, url: next, headers };
  }
}

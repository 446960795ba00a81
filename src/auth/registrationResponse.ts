/**
 * Reading a dynamic client registration answer the way the servers people run write it.
 *
 * oauth4webapi (under openid-client) follows RFC 7591 to the letter: the answer must be HTTP 201,
 * and a `client_secret` must come with `client_secret_expires_at`. Servers in the field answer 200
 * (several packaged OpenID providers) and leave `client_secret_expires_at` out (earlier releases of
 * the most deployed remote-MCP OAuth provider). Neither changes what the registration means, so the
 * response is normalised before oauth4webapi's checks run — every other check (JSON, client_id a
 * string, client_secret a string, OAuth error bodies) still applies unchanged.
 */

/** RFC 7591 §3.2.1: 0 means the secret does not expire — what a missing value means in practice. */
const NEVER_EXPIRES = 0;

/**
 * A copy of a registration response that oauth4webapi accepts when the server's only deviations are
 * 200 instead of 201 and a missing `client_secret_expires_at`. Error answers (4xx/5xx) and
 * non-JSON bodies are passed through untouched so their own error reporting applies.
 */
export async function normaliseRegistrationResponse(response: Response): Promise<Response> {
  if (response.status !== 200 && response.status !== 201) return response;
  const type = response.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, { status: response.status, headers: response.headers });
  }
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (typeof b.client_secret === 'string' && b.client_secret && b.client_secret_expires_at === undefined) b.client_secret_expires_at = NEVER_EXPIRES;
  }
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  const out = new Response(JSON.stringify(body), { status: 201, headers });
  // oauth4webapi checks the response came from the endpoint it asked (response.url).
  Object.defineProperty(out, 'url', { value: response.url });
  return out;
}

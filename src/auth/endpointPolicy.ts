import { isIP } from 'node:net';
import { UnsafeServerError } from '../errors.js';

/**
 * Which URLs a server may send us to. Pure.
 * OAuth 2.1 §1.5 and the MCP authorization spec ("Communication Security") require TLS for every
 * endpoint; plain http is tolerated only on loopback (RFC 8252 §7.3) or with an explicit --allow-http.
 */
export interface EndpointPolicyOptions {
  allowHttp?: boolean;
}

/** True for localhost, 127.0.0.0/8 and ::1 (hostname as URL.hostname gives it, IPv6 in brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.split('.')[0] === '127';
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Parse and vet an endpoint URL a server (or the user) gave us. Throws UnsafeServerError
 * naming `what` (e.g. "token_endpoint") when it is not https (or loopback http), carries
 * credentials, or has a fragment.
 */
export function checkEndpoint(raw: string | URL, what: string, opts: EndpointPolicyOptions = {}): URL {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : new URL(raw.href);
  } catch {
    throw new UnsafeServerError(`${what} is not a valid URL: ${JSON.stringify(String(raw).slice(0, 200))}`, 'bad_endpoint');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UnsafeServerError(`${what} must be an https URL, got ${url.protocol}`, 'bad_endpoint');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !opts.allowHttp) {
    throw new UnsafeServerError(
      `${what} ${url.origin} uses plain http on a non-loopback host; refusing (pass --allow-http to permit it)`,
      'insecure_endpoint',
    );
  }
  if (url.username || url.password) {
    throw new UnsafeServerError(`${what} must not contain user credentials`, 'bad_endpoint');
  }
  // A fragment in a metadata-provided URL is invalid (RFC 8414 §2 for the issuer; RFC 6749 §3.1 for endpoints).
  if (url.hash || (typeof raw === 'string' && raw.includes('#'))) {
    throw new UnsafeServerError(`${what} must not contain a fragment`, 'bad_endpoint');
  }
  return url;
}

/** True when talking to this URL needs openid-client's allowInsecureRequests (it already passed checkEndpoint). */
export function needsInsecureRequests(url: URL): boolean {
  return url.protocol === 'http:';
}

import { BlockList, isIP } from 'node:net';
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

/** Link-local addresses (cloud instance metadata at 169.254.169.254 among them), IPv4-mapped forms included. */
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** Addresses that reach this machine: loopback, and the unspecified address (connects to loopback). */
const THIS_MACHINE = new BlockList();
THIS_MACHINE.addSubnet('127.0.0.0', 8, 'ipv4');
THIS_MACHINE.addSubnet('0.0.0.0', 8, 'ipv4');
THIS_MACHINE.addAddress('::1', 'ipv6');
THIS_MACHINE.addAddress('::', 'ipv6');

function ipOf(hostname: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const v = isIP(h);
  return v === 4 ? { address: h, family: 'ipv4' } : v === 6 ? { address: h, family: 'ipv6' } : undefined;
}

/** True for a link-local IP literal (169.254.0.0/16, fe80::/10, or IPv4-mapped). Host names are not resolved. */
export function isLinkLocalHost(hostname: string): boolean {
  const ip = ipOf(hostname);
  return ip !== undefined && LINK_LOCAL.check(ip.address, ip.family);
}

/** True for a host on this machine: localhost (and *.localhost), loopback and unspecified IP literals, IPv4-mapped forms included. */
export function isThisMachineHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const ip = ipOf(h);
  return ip !== undefined && THIS_MACHINE.check(ip.address, ip.family);
}

/**
 * Where a server may send the bridge to fetch metadata (or to use an endpoint the metadata names):
 * never a link-local address (an instance metadata service is one), and this machine only when the
 * gateway itself is on this machine (a remote gateway must not make the bridge probe local ports).
 * `url` has already passed checkEndpoint; `gateway` is the MCP server URL the user gave.
 */
export function checkServerNamedTarget(url: URL, what: string, gateway: URL): void {
  if (isLinkLocalHost(url.hostname)) {
    throw new UnsafeServerError(`${what} ${url.origin} is a link-local address; refusing to fetch from it`, 'forbidden_endpoint');
  }
  if (isThisMachineHost(url.hostname) && !isThisMachineHost(gateway.hostname)) {
    throw new UnsafeServerError(
      `${what} ${url.origin} is on this machine, but the gateway ${gateway.origin} is not; refusing to fetch from it`,
      'forbidden_endpoint',
    );
  }
}

/** True when talking to this URL needs openid-client's allowInsecureRequests (it already passed checkEndpoint). */
export function needsInsecureRequests(url: URL): boolean {
  return url.protocol === 'http:';
}

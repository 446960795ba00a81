import * as client from 'openid-client';
import { AuthRefusedError, RemoteUnavailableError, UnsafeServerError } from '../errors.js';
import { readBoundedText } from './boundedFetch.js';
import type { Logger } from '../log/logger.js';
import { validateBrowserUrl } from './browser.js';
import { checkEndpoint, checkServerNamedTarget, needsInsecureRequests } from './endpointPolicy.js';
import { sanitizeServerText, toAuthError, unexpectedStatus } from './oauthErrors.js';
import { makeCustomFetch, oauthRequestSignal, OAUTH_REQUEST_TIMEOUT_S } from './oidcConfiguration.js';
import { canonicalServerUrl } from './profile.js';

/** RFC 9728 §2 protected resource metadata (the fields we use). */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  [field: string]: unknown;
}

/** An authorization server whose metadata passed every check. */
export interface DiscoveredServer {
  metadata: client.ServerMetadata;
  /** The metadata document it was read from. */
  metadataUrl: URL;
  /** True when some endpoint is (vetted) plain http, so openid-client needs allowInsecureRequests. */
  insecure: boolean;
}

const MAX_METADATA_BYTES = 1_000_000;

/**
 * Where to look for the protected resource metadata, in order (MCP authorization spec,
 * "Protected Resource Metadata Discovery Requirements"; RFC 9728 §3.1 and §5.1): the
 * WWW-Authenticate resource_metadata URL, then the path-inserted well-known URI, then the root one.
 */
export function protectedResourceMetadataCandidates(serverUrl: URL, headerUrl?: string): string[] {
  const out: string[] = [];
  if (headerUrl) out.push(headerUrl);
  const path = serverUrl.pathname.replace(/\/+$/, '');
  if (path) out.push(`${serverUrl.origin}/.well-known/oauth-protected-resource${path}`);
  out.push(`${serverUrl.origin}/.well-known/oauth-protected-resource`);
  return [...new Set(out)];
}

/**
 * Where to look for authorization server metadata, in the MCP spec's order ("Authorization
 * Server Metadata Discovery"): RFC 8414 with path insertion, OIDC discovery with path
 * insertion, OIDC discovery with the path appended; for an issuer without a path, RFC 8414
 * then OIDC at the root.
 */
export function authorizationServerMetadataCandidates(issuer: URL): URL[] {
  const path = issuer.pathname.replace(/\/+$/, ''); // RFC 8414 §3.1: drop the terminating slash first
  if (!path) {
    return [new URL(`${issuer.origin}/.well-known/oauth-authorization-server`), new URL(`${issuer.origin}/.well-known/openid-configuration`)];
  }
  return [
    new URL(`${issuer.origin}/.well-known/oauth-authorization-server${path}`),
    new URL(`${issuer.origin}/.well-known/openid-configuration${path}`),
    new URL(`${issuer.origin}${path}/.well-known/openid-configuration`),
  ];
}

/** What discoverProtectedResource needs. */
export interface ResourceDiscoveryOptions {
  serverUrl: URL;
  /** Canonical resource the metadata must name: --resource or the canonical server URL. */
  expectedResource: string;
  /**
   * True when expectedResource is the user's --resource: then only that exact resource is accepted.
   * Otherwise metadata for a resource that covers the server URL (same origin, a path prefix) is
   * accepted too, as the MCP SDKs do: a server at /mcp may publish "resource": "https://host".
   */
  resourceIsExplicit?: boolean;
  /** resource_metadata from the 401's WWW-Authenticate, if any. */
  resourceMetadataUrl?: string;
  fetch: typeof globalThis.fetch;
  log: Logger;
  signal?: AbortSignal;
  allowHttp?: boolean;
}

/** Fetch and validate RFC 9728 protected resource metadata; the first candidate that answers 200 wins. */
export async function discoverProtectedResource(opts: ResourceDiscoveryOptions): Promise<ProtectedResourceMetadata> {
  const tried: string[] = [];
  for (const candidate of protectedResourceMetadataCandidates(opts.serverUrl, opts.resourceMetadataUrl)) {
    const url = checkEndpoint(candidate, 'resource_metadata URL', { allowHttp: opts.allowHttp });
    checkServerNamedTarget(url, 'resource_metadata URL', opts.serverUrl);
    let response: Response;
    try {
      response = await opts.fetch(url.href, {
        method: 'GET',
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: oauthRequestSignal(opts.signal),
      });
    } catch (err) {
      throw new RemoteUnavailableError(`cannot fetch protected resource metadata from ${url.href}`, { code: 'resource_metadata_unreachable', cause: err });
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      tried.push(`${url.href} (HTTP ${response.status})`);
      opts.log.debug(`no protected resource metadata at ${url.href}: HTTP ${response.status}`);
      continue;
    }
    // Bounded while reading: a hostile resource cannot make the bridge hold a huge document first.
    const text = await readBoundedText(response, MAX_METADATA_BYTES, `protected resource metadata at ${url.href}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new UnsafeServerError(`protected resource metadata at ${url.href} is not JSON`, 'bad_resource_metadata');
    }
    return validateResourceMetadata(body, url, opts);
  }
  throw new AuthRefusedError(
    `the server ${opts.serverUrl.href} asked for sign-in but publishes no OAuth protected resource metadata (RFC 9728); tried ${tried.join(', ')}`,
    'no_resource_metadata',
  );
}

function validateResourceMetadata(body: unknown, url: URL, opts: ResourceDiscoveryOptions): ProtectedResourceMetadata {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new UnsafeServerError(`protected resource metadata at ${url.href} is not a JSON object`, 'bad_resource_metadata');
  }
  const md = body as Record<string, unknown>;
  if (typeof md.resource !== 'string') {
    throw new UnsafeServerError(`protected resource metadata at ${url.href} has no "resource"`, 'bad_resource_metadata');
  }
  // RFC 9728 §3.3 / §7.3: metadata for another resource must not be used (it could send our tokens elsewhere).
  let actual: string;
  try {
    actual = canonicalServerUrl(md.resource);
  } catch {
    actual = md.resource;
  }
  if (actual !== opts.expectedResource && (opts.resourceIsExplicit || !resourceCovers(actual, opts.serverUrl))) {
    throw new UnsafeServerError(
      `protected resource metadata at ${url.href} is for resource ${JSON.stringify(sanitizeServerText(md.resource, 200))}, ` +
        `not ${opts.expectedResource}; refusing to sign in (if the gateway is reached under another name, pass --resource)`,
      'resource_mismatch',
    );
  }
  const servers = md.authorization_servers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string')) {
    throw new UnsafeServerError(`protected resource metadata at ${url.href} lists no authorization_servers`, 'bad_resource_metadata');
  }
  const scopes = md.scopes_supported;
  if (scopes !== undefined && (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))) {
    throw new UnsafeServerError(`protected resource metadata at ${url.href} has a malformed scopes_supported`, 'bad_resource_metadata');
  }
  return md as ProtectedResourceMetadata;
}

/**
 * True when a protected resource identifier covers the server URL: the same origin, and its path
 * equal to the server's or a prefix of it at a "/" boundary (RFC 9728 §3.3 asks for the resource
 * the client used; the MCP SDKs accept a covering resource so one document can serve an origin).
 */
export function resourceCovers(resource: string, serverUrl: URL): boolean {
  let r: URL;
  try {
    r = new URL(resource);
  } catch {
    return false;
  }
  if (r.origin !== serverUrl.origin || r.search || r.hash) return false;
  const rp = r.pathname.replace(/\/+$/, '');
  const sp = serverUrl.pathname.replace(/\/+$/, '');
  return rp === '' || sp === rp || sp.startsWith(`${rp}/`);
}

/** Endpoint fields of AS metadata that must pass the endpoint policy when present. */
const ENDPOINT_FIELDS = [
  'authorization_endpoint',
  'token_endpoint',
  'registration_endpoint',
  'revocation_endpoint',
  'introspection_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'end_session_endpoint',
  'device_authorization_endpoint',
  'pushed_authorization_request_endpoint',
] as const;

/** What discoverAuthorizationServer needs. */
export interface ServerDiscoveryOptions {
  /** The issuer identifier as listed in authorization_servers. */
  issuer: string;
  fetch: typeof globalThis.fetch;
  log: Logger;
  signal?: AbortSignal;
  allowHttp?: boolean;
  assumePkceS256?: boolean;
  /**
   * Accept an issuer other than `issuer` (2025-03-26 discovery, where the client looks the metadata
   * up at the MCP server's origin without knowing the issuer beforehand).
   */
  acceptIssuer?: (named: string) => boolean;
  /**
   * The gateway, when a server named this issuer (protected resource metadata): the issuer and the
   * endpoints its metadata names must then pass checkServerNamedTarget. Unset for an issuer the
   * user configured (--enterprise-idp).
   */
  gatewayUrl?: URL;
}

/**
 * Fetch the AS metadata in the spec's order through openid-client's discovery() (given a
 * .well-known URL it fetches that document directly), then enforce what discovery() skips in
 * that mode: the issuer must be exactly the one we looked up (RFC 8414 §3.3), every endpoint
 * must be https or loopback http, and PKCE S256 must be supported.
 */
export async function discoverAuthorizationServer(opts: ServerDiscoveryOptions): Promise<DiscoveredServer> {
  const issuerUrl = checkEndpoint(opts.issuer, 'authorization server issuer', { allowHttp: opts.allowHttp });
  if (opts.gatewayUrl) checkServerNamedTarget(issuerUrl, 'authorization server issuer', opts.gatewayUrl);
  const insecureIssuer = needsInsecureRequests(issuerUrl);
  const tried: string[] = [];
  for (const candidate of authorizationServerMetadataCandidates(issuerUrl)) {
    let config: client.Configuration;
    try {
      // The client id is a placeholder: only the server metadata of this Configuration is used.
      config = await client.discovery(candidate, 'metadata-probe', undefined, client.None(), {
        [client.customFetch]: makeCustomFetch(opts.fetch, opts.signal),
        execute: insecureIssuer ? [client.allowInsecureRequests] : [],
        timeout: OAUTH_REQUEST_TIMEOUT_S,
      });
    } catch (err) {
      const status = unexpectedStatus(err);
      if (status !== undefined && status >= 400 && status < 500) {
        await ((err as Error).cause as Response).body?.cancel().catch(() => undefined);
        tried.push(`${candidate.href} (HTTP ${status})`);
        opts.log.debug(`no authorization server metadata at ${candidate.href}: HTTP ${status}`);
        continue;
      }
      throw toAuthError(err, `authorization server metadata at ${candidate.href}`);
    }
    const metadata = { ...config.serverMetadata() } as client.ServerMetadata;
    return validateServerMetadata(metadata, candidate, opts);
  }
  throw new AuthRefusedError(`no authorization server metadata found for issuer ${opts.issuer}; tried ${tried.join(', ')}`, 'no_server_metadata');
}

function validateServerMetadata(metadata: client.ServerMetadata, from: URL, opts: ServerDiscoveryOptions): DiscoveredServer {
  if (metadata.issuer !== opts.issuer && !opts.acceptIssuer?.(metadata.issuer)) {
    throw new UnsafeServerError(
      `authorization server metadata at ${from.href} names issuer ${JSON.stringify(sanitizeServerText(metadata.issuer, 200))}, ` +
        `but the resource points to ${opts.issuer}; refusing (RFC 8414 §3.3)`,
      'issuer_mismatch',
    );
  }
  let insecure = needsInsecureRequests(from);
  for (const field of ENDPOINT_FIELDS) {
    const value = metadata[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new UnsafeServerError(`authorization server metadata: ${field} is not a string`, 'bad_server_metadata');
    const url = checkEndpoint(value, field, { allowHttp: opts.allowHttp });
    if (opts.gatewayUrl) checkServerNamedTarget(url, field, opts.gatewayUrl);
    insecure ||= needsInsecureRequests(url);
  }
  if (!metadata.authorization_endpoint || !metadata.token_endpoint) {
    throw new UnsafeServerError(`authorization server ${opts.issuer} does not advertise an authorization_endpoint and a token_endpoint`, 'bad_server_metadata');
  }
  // The authorization endpoint is the URL we hand to a browser. Vet its text as the server wrote
  // it, before registering or listening: building the request re-serialises the query, which
  // would percent-encode shell syntax into something that looks harmless. An honest server
  // publishes no quotes, `$`, backticks or whitespace there.
  try {
    validateBrowserUrl(metadata.authorization_endpoint, { allowHttp: opts.allowHttp });
  } catch (err) {
    throw new UnsafeServerError(
      `authorization server ${opts.issuer} publishes an authorization_endpoint that cannot be opened safely (${(err as Error).message}); refusing to sign in`,
      'unsafe_browser_url',
    );
  }
  // MCP authorization spec, "Authorization Code Protection": PKCE with S256 is mandatory, and
  // support must be confirmed from the metadata before proceeding.
  const methods = metadata.code_challenge_methods_supported;
  if (methods === undefined) {
    if (!opts.assumePkceS256) {
      throw new UnsafeServerError(
        `authorization server ${opts.issuer} does not advertise PKCE support (code_challenge_methods_supported); ` +
          'refusing to sign in (pass --assume-pkce-s256 if you know it supports S256)',
        'pkce_unsupported',
      );
    }
    opts.log.warn(`authorization server ${opts.issuer} does not advertise PKCE methods; assuming S256 as requested`);
  } else if (!Array.isArray(methods) || !methods.includes('S256')) {
    throw new UnsafeServerError(`authorization server ${opts.issuer} does not support PKCE S256; refusing to sign in`, 'pkce_unsupported');
  }
  return { metadata, metadataUrl: from, insecure };
}

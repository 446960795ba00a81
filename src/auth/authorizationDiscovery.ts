import type * as client from 'openid-client';
import { KeybridgeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { chooseResource } from './authorizationCode.js';
import { discoverAuthorizationServer, discoverProtectedResource, type DiscoveredServer } from './discovery.js';
import { checkEndpoint, needsInsecureRequests } from './endpointPolicy.js';
import type { AuthOptions } from './options.js';
import { canonicalServerUrl } from './profile.js';

/** Where and for what a sign-in asks: the authorization server, the resource to name, the scopes on offer. */
export interface AuthorizationTarget {
  server: DiscoveredServer;
  /**
   * The RFC 8707 resource to send: --resource; else the protected resource metadata's `resource`
   * exactly as published (the server compares it as a string); else the canonical server URL;
   * undefined with --no-resource.
   */
  resource?: string;
  /** The resource metadata's scopes_supported (scope selection). */
  scopesSupported?: string[];
  /** How the authorization server was found. */
  via: 'resource-metadata' | 'legacy-metadata' | 'legacy-default-endpoints';
}

/** What discoverAuthorizationTarget needs. */
export interface TargetDiscoveryInput {
  options: Pick<AuthOptions, 'serverUrl' | 'resource' | 'noResource' | 'allowHttp' | 'assumePkceS256'>;
  /** resource_metadata from the gateway's challenge, if any. */
  resourceMetadataUrl?: string;
  fetch: typeof globalThis.fetch;
  log: Logger;
  signal?: AbortSignal;
  /** PKCE is checked for browser sign-ins only (a machine token request has no code to protect). */
  requirePkce: boolean;
}

/**
 * MCP authorization discovery, current and 2025-03-26:
 * 1. RFC 9728 protected resource metadata names the authorization server;
 * 2. a server with none (the 2025-03-26 revision, "Server Metadata Discovery"): the authorization
 *    base URL is the MCP server's origin, RFC 8414 metadata is read there;
 * 3. and with no metadata there either ("Fallbacks for Servers without Metadata Discovery"):
 *    /authorize, /token and /register at that origin.
 */
export async function discoverAuthorizationTarget(input: TargetDiscoveryInput): Promise<AuthorizationTarget> {
  const { options, log } = input;
  const common = requestOptions(input);
  let prm;
  try {
    prm = await discoverProtectedResource({
      serverUrl: options.serverUrl,
      expectedResource: canonicalServerUrl(options.resource ?? options.serverUrl),
      resourceIsExplicit: options.resource !== undefined,
      resourceMetadataUrl: input.resourceMetadataUrl,
      ...common,
    });
  } catch (err) {
    if (!(err instanceof KeybridgeError && err.code === 'no_resource_metadata')) throw err;
    return legacyTarget(input, common, err);
  }
  const issuer = prm.authorization_servers[0]!;
  if (prm.authorization_servers.length > 1) log.debug(`the resource lists several authorization servers; using ${issuer}`);
  const server = await discoverAuthorizationServer({ issuer, gatewayUrl: options.serverUrl, ...common });
  const resource = options.noResource ? undefined : (options.resource ?? prm.resource);
  return { server, resource, scopesSupported: prm.scopes_supported, via: 'resource-metadata' };
}

/** What every discovery request of one sign-in shares. */
function requestOptions(input: TargetDiscoveryInput) {
  const { options } = input;
  return { fetch: input.fetch, log: input.log, signal: input.signal, allowHttp: options.allowHttp, assumePkceS256: input.requirePkce ? options.assumePkceS256 : true };
}

async function legacyTarget(input: TargetDiscoveryInput, common: ReturnType<typeof requestOptions>, noPrm: KeybridgeError): Promise<AuthorizationTarget> {
  const { options, log } = input;
  const origin = options.serverUrl.origin;
  log.debug(`${noPrm.message}; trying 2025-03-26 discovery at ${origin}`);
  const resource = chooseResource(options);
  try {
    const server = await discoverAuthorizationServer({
      issuer: origin,
      // 2025-03-26 looks the metadata up at the origin without knowing the issuer; the document
      // may name an issuer below it (e.g. ${origin}/oauth). Only one of this same origin — the
      // MCP server's own authority — is accepted: a foreign issuer here would be a mix-up.
      acceptIssuer: (named) => sameOrigin(named, origin),
      gatewayUrl: options.serverUrl,
      ...common,
    });
    return { server, resource, via: 'legacy-metadata' };
  } catch (err) {
    if (!(err instanceof KeybridgeError && err.code === 'no_server_metadata')) throw err;
  }
  const url = (p: string): string => checkEndpoint(`${origin}${p}`, `default ${p} endpoint`, { allowHttp: options.allowHttp }).href;
  const metadata: client.ServerMetadata = {
    issuer: origin,
    authorization_endpoint: url('/authorize'),
    token_endpoint: url('/token'),
    registration_endpoint: url('/register'),
    // 2025-03-26 "Authorization Code Protection": PKCE is required of every client and server;
    // a server without metadata has nowhere to advertise it, so S256 is what it must accept.
    code_challenge_methods_supported: ['S256'],
  };
  log.info(`${origin} publishes no authorization metadata; using its default /authorize, /token and /register endpoints (MCP 2025-03-26)`);
  return {
    server: { metadata, metadataUrl: new URL(`${origin}/.well-known/oauth-authorization-server`), insecure: needsInsecureRequests(new URL(origin)) },
    resource,
    via: 'legacy-default-endpoints',
  };
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

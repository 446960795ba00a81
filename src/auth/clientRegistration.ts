import * as oauth from 'oauth4webapi';
import type * as client from 'openid-client';
import type { Deps } from '../deps.js';
import { AuthRefusedError, UsageError } from '../errors.js';
import type { TokenStore } from '../store/tokenStore.js';
import { importClientKey, privateKeyJwtSupported } from './clientAssertion.js';
import type { DiscoveredServer } from './discovery.js';
import { checkEndpoint } from './endpointPolicy.js';
import { toAuthError } from './oauthErrors.js';
import { normaliseRegistrationResponse } from './registrationResponse.js';
import { buildConfiguration, clientAuthFor, makeCustomFetch, oauthRequestSignal } from './oidcConfiguration.js';
import type { AuthOptions } from './options.js';
import { registrationKey } from './profile.js';
import type { ClientSource } from './tokenSet.js';

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** The client identity a sign-in uses. */
export interface ResolvedClient {
  clientId: string;
  clientSource: ClientSource;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  clientSecret?: string;
  /** The imported --client-key-file, for private_key_jwt (RFC 7523 §2.2). */
  clientKey?: client.PrivateKey;
  /** True when it came from the store (so an invalid_client answer may be cured by registering again). */
  reused: boolean;
}

/** A dynamic registration kept in the token store (it carries a secret when the AS issued one). */
export interface StoredRegistration {
  version: 1;
  issuer: string;
  redirectUri: string;
  clientId: string;
  clientSecret?: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  registeredAt: number;
}

/** Client name shown by the authorization server on its consent page. */
export const CLIENT_NAME = 'mcp-keybridge';

/**
 * Pick how a confidential pre-registered client authenticates (RFC 8414 §2: when the AS lists
 * nothing, client_secret_basic is the default). Basic is preferred, then post.
 */
export function chooseSecretAuthMethod(supported: readonly string[] | undefined): 'client_secret_basic' | 'client_secret_post' {
  if (supported === undefined || supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  throw new AuthRefusedError(
    `the authorization server supports neither client_secret_basic nor client_secret_post (it lists ${supported.join(', ') || 'nothing'}); cannot use --client-secret-env`,
    'unsupported_client_auth',
  );
}

function parseStoredRegistration(value: unknown): StoredRegistration | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Partial<StoredRegistration>;
  if (v.version !== 1 || typeof v.clientId !== 'string' || typeof v.redirectUri !== 'string' || typeof v.issuer !== 'string') return undefined;
  if (v.tokenEndpointAuthMethod !== 'none' && v.tokenEndpointAuthMethod !== 'client_secret_basic' && v.tokenEndpointAuthMethod !== 'client_secret_post') return undefined;
  return v as StoredRegistration;
}

/** The stored dynamic registration for this issuer and callback host, if any. */
export async function loadStoredRegistration(store: TokenStore, issuer: string, callbackHost: string): Promise<StoredRegistration | undefined> {
  return parseStoredRegistration(await store.get(registrationKey({ issuer, callbackHost })));
}

/** Forget a stored registration the AS no longer knows, unless a sibling process replaced it meanwhile. */
export async function dropStoredRegistration(store: TokenStore, reg: { issuer: string; clientId: string }, callbackHost: string): Promise<void> {
  const key = registrationKey({ issuer: reg.issuer, callbackHost });
  const current = parseStoredRegistration(await store.get(key));
  if (current && current.clientId === reg.clientId) await store.delete(key);
}

/**
 * The --client-id client: public, or confidential with a secret (basic or post, as the AS
 * supports) or with a private key (private_key_jwt, RFC 7523 §2.2).
 */
export async function preRegisteredClient(
  options: Pick<AuthOptions, 'clientId' | 'clientSecret' | 'clientKey'>,
  metadata: Pick<client.ServerMetadata, 'token_endpoint_auth_methods_supported'>,
  deps: Pick<Deps, 'log'>,
): Promise<ResolvedClient> {
  const clientId = options.clientId!;
  if (options.clientKey) {
    if (!privateKeyJwtSupported(metadata.token_endpoint_auth_methods_supported)) {
      throw new AuthRefusedError(
        `the authorization server does not list private_key_jwt among its token endpoint auth methods (${(metadata.token_endpoint_auth_methods_supported ?? []).join(', ')}); cannot use --client-key-file`,
        'unsupported_client_auth',
      );
    }
    const clientKey = await importClientKey(options.clientKey);
    return { clientId, clientSource: 'pre-registered', tokenEndpointAuthMethod: 'private_key_jwt', clientKey, reused: false };
  }
  if (options.clientSecret) {
    deps.log.redactor.addSecret(options.clientSecret);
    return {
      clientId,
      clientSource: 'pre-registered',
      tokenEndpointAuthMethod: chooseSecretAuthMethod(metadata.token_endpoint_auth_methods_supported),
      clientSecret: options.clientSecret,
      reused: false,
    };
  }
  return { clientId, clientSource: 'pre-registered', tokenEndpointAuthMethod: 'none', reused: false };
}

/** What resolveClient needs. */
export interface ResolveClientInput {
  options: AuthOptions;
  server: DiscoveredServer;
  redirectUri: string;
  callbackHost: string;
  store: TokenStore;
  deps: Deps;
  signal?: AbortSignal;
  /** Ignore a stored registration (after it was refused with invalid_client). */
  forceNewRegistration?: boolean;
}

/**
 * Choose the client identity in the MCP spec's priority order ("Client Registration
 * Approaches"): a pre-registered client id, then a Client ID Metadata Document when the AS
 * supports it, then (stored or new) RFC 7591 dynamic registration.
 */
export async function resolveClient(input: ResolveClientInput): Promise<ResolvedClient> {
  const { options, server, deps } = input;
  if (options.clientId) return preRegisteredClient(options, server.metadata, deps);

  if (options.clientMetadataUrl) {
    if (server.metadata.client_id_metadata_document_supported === true) {
      const url = checkEndpoint(options.clientMetadataUrl, '--client-metadata-url', { allowHttp: options.allowHttp });
      // draft-ietf-oauth-client-id-metadata-document §3: the client_id URL must have a path.
      if (url.pathname === '/' || url.pathname === '') {
        throw new UsageError('--client-metadata-url must point to a document path, not a bare origin', 'bad_client_metadata_url');
      }
      return { clientId: url.href, clientSource: 'metadata-document', tokenEndpointAuthMethod: 'none', reused: false };
    }
    deps.log.info(`${server.metadata.issuer} does not support Client ID Metadata Documents; using dynamic client registration`);
  }

  if (!input.forceNewRegistration) {
    const stored = await loadStoredRegistration(input.store, server.metadata.issuer, input.callbackHost);
    if (stored && stored.issuer === server.metadata.issuer && stored.redirectUri === input.redirectUri) {
      deps.log.redactor.addSecret(stored.clientSecret);
      deps.log.debug(`reusing the stored client registration at ${server.metadata.issuer}`);
      return {
        clientId: stored.clientId,
        clientSource: 'dynamic',
        tokenEndpointAuthMethod: stored.tokenEndpointAuthMethod,
        clientSecret: stored.clientSecret,
        reused: true,
      };
    }
  }
  return registerDynamically(input);
}

/**
 * The token endpoint auth method to register with: `none` (a public native client, OAuth 2.1 §2.1)
 * when the server offers it or lists nothing; otherwise a secret method the server lists, so the
 * code exchange can authenticate at all.
 */
export function registrationAuthMethod(supported: readonly string[] | undefined): 'none' | 'client_secret_basic' | 'client_secret_post' {
  if (supported === undefined || supported.length === 0 || supported.includes('none')) return 'none';
  return chooseSecretAuthMethod(supported);
}

/** What registerClient needs: the vetted server, the metadata to register, where to keep it. */
export interface RegisterClientInput {
  server: DiscoveredServer;
  metadata: Partial<client.ClientMetadata>;
  store: TokenStore;
  /** The registration slot (callback host, or the device-grant slot) it is stored under. */
  slot: string;
  redirectUri: string;
  deps: Deps;
  signal?: AbortSignal;
  /** For messages: what the registration is for. */
  what: string;
  /** What to register at the server instead when it offers no registration (ends the error message). */
  registerYourselfHint: string;
}

/**
 * RFC 7591 registration against the metadata discovery already vetted (issuer, endpoints), with
 * oauth4webapi's request/response pair: no second metadata fetch that could name another
 * endpoint. The registration (and its secret, when one was issued) is stored bound to the issuer.
 */
export async function registerClient(input: RegisterClientInput): Promise<ResolvedClient> {
  const { server, deps } = input;
  if (!server.metadata.registration_endpoint) {
    throw new AuthRefusedError(
      `the authorization server ${server.metadata.issuer} offers no dynamic client registration; ${input.registerYourselfHint} and pass --client-id`,
      'registration_unsupported',
    );
  }
  const requestedMethod = (input.metadata.token_endpoint_auth_method ?? 'none') as TokenEndpointAuthMethod;
  let registered: Awaited<ReturnType<typeof oauth.processDynamicClientRegistrationResponse>>;
  try {
    const response = await oauth.dynamicClientRegistrationRequest(server.metadata as oauth.AuthorizationServer, input.metadata, {
      [oauth.customFetch]: makeCustomFetch(deps.fetch, input.signal) as never,
      [oauth.allowInsecureRequests]: server.insecure,
      signal: oauthRequestSignal(input.signal),
    });
    registered = await oauth.processDynamicClientRegistrationResponse(await normaliseRegistrationResponse(response));
  } catch (err) {
    throw toAuthError(err, input.what);
  }
  const clientSecret = typeof registered.client_secret === 'string' && registered.client_secret ? registered.client_secret : undefined;
  deps.log.redactor.addSecret(clientSecret);
  let method: TokenEndpointAuthMethod = 'none';
  if (clientSecret) {
    const answered = registered.token_endpoint_auth_method;
    method = answered === 'client_secret_post' || answered === 'client_secret_basic' ? answered : requestedMethod === 'none' ? 'client_secret_basic' : requestedMethod;
  }
  const record: StoredRegistration = {
    version: 1,
    issuer: server.metadata.issuer,
    redirectUri: input.redirectUri,
    clientId: registered.client_id,
    tokenEndpointAuthMethod: method,
    registeredAt: deps.clock.now(),
  };
  if (clientSecret) record.clientSecret = clientSecret;
  await input.store.set(registrationKey({ issuer: server.metadata.issuer, callbackHost: input.slot }), record);
  deps.log.info(`registered this client at ${server.metadata.issuer}`);
  return { clientId: registered.client_id, clientSource: 'dynamic', tokenEndpointAuthMethod: method, clientSecret, reused: false };
}

async function registerDynamically(input: ResolveClientInput): Promise<ResolvedClient> {
  const { server } = input;
  return registerClient({
    server,
    metadata: {
      client_name: CLIENT_NAME,
      application_type: 'native',
      redirect_uris: [input.redirectUri],
      // SEP-2207: a client that can keep a refresh token says so in its metadata.
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: registrationAuthMethod(server.metadata.token_endpoint_auth_methods_supported),
    },
    store: input.store,
    slot: input.callbackHost,
    redirectUri: input.redirectUri,
    deps: input.deps,
    signal: input.signal,
    what: 'dynamic client registration',
    registerYourselfHint: 'register a client there',
  });
}

/** The openid-client Configuration for a resolved client at a discovered authorization server. */
export function configurationFor(
  server: Pick<DiscoveredServer, 'metadata' | 'insecure'>,
  resolved: ResolvedClient,
  fetchFn: typeof globalThis.fetch,
  signal?: AbortSignal,
): client.Configuration {
  return buildConfiguration({
    metadata: server.metadata,
    clientId: resolved.clientId,
    clientMetadata: { token_endpoint_auth_method: resolved.tokenEndpointAuthMethod },
    clientAuth: clientAuthFor(resolved.tokenEndpointAuthMethod, resolved.clientKey ?? resolved.clientSecret),
    fetch: fetchFn,
    signal,
    insecure: server.insecure,
  });
}

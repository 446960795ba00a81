import * as client from 'openid-client';
import { AuthRefusedError } from '../errors.js';
import { clientSecretBasic } from './clientSecretBasic.js';

/** Timeout openid-client applies to each of its requests, in seconds. */
export const OAUTH_REQUEST_TIMEOUT_S = 30;

/**
 * Route openid-client's HTTP through our fetch (the configured undici dispatcher), and abort
 * its requests when the caller's signal fires as well as on openid-client's own timeout.
 */
export function makeCustomFetch(fetchFn: typeof globalThis.fetch, signal?: AbortSignal): client.CustomFetch {
  return (url, options) => {
    const signals = [options.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    const init: RequestInit & { duplex?: 'half' } = {
      method: options.method,
      headers: options.headers,
      body: options.body as RequestInit['body'],
      redirect: options.redirect,
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    };
    if (options.duplex) init.duplex = options.duplex;
    return fetchFn(url, init);
  };
}

/** The caller's signal joined with the per-request OAuth deadline, for requests made outside openid-client. */
export function oauthRequestSignal(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(OAUTH_REQUEST_TIMEOUT_S * 1000);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** How to reach the authorization server with openid-client. */
export interface ConfigurationInput {
  metadata: client.ServerMetadata;
  clientId: string;
  clientMetadata?: Partial<client.ClientMetadata>;
  clientAuth: client.ClientAuth;
  fetch: typeof globalThis.fetch;
  signal?: AbortSignal;
  /** True when some endpoint is plain http (already vetted by endpointPolicy). */
  insecure: boolean;
}

/** A Configuration for an already-discovered authorization server. */
export function buildConfiguration(input: ConfigurationInput): client.Configuration {
  const config = new client.Configuration(input.metadata, input.clientId, input.clientMetadata, input.clientAuth);
  config[client.customFetch] = makeCustomFetch(input.fetch, input.signal);
  config.timeout = OAUTH_REQUEST_TIMEOUT_S;
  if (input.insecure) client.allowInsecureRequests(config);
  return config;
}

/**
 * The openid-client ClientAuth for a token endpoint auth method and its credential: a secret, or
 * for private_key_jwt (RFC 7523 §2.2) the imported private key (src/auth/clientAssertion.ts).
 */
export function clientAuthFor(
  method: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | undefined,
  credential?: string | client.PrivateKey,
): client.ClientAuth {
  const secret = typeof credential === 'string' ? credential : undefined;
  switch (method) {
    case 'client_secret_basic':
      return clientSecretBasic(secret);
    case 'client_secret_post':
      return client.ClientSecretPost(secret);
    case 'private_key_jwt':
      if (credential === undefined || typeof credential === 'string') {
        throw new AuthRefusedError('this client authenticates with a private key (private_key_jwt): pass --client-key-file', 'client_key_required');
      }
      return client.PrivateKeyJwt(credential);
    default:
      return client.None();
  }
}
